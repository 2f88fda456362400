"""`socklab bench` as a library call: the steps in order of importance, each bounded, under one budget.

Every step starts fresh containers and is skipped (and reported as skipped) when what is left of the
time budget cannot hold it: the quick run stays under 2 minutes and the full one under 10.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import docker.errors
import requests
from tqdm import tqdm

from socklab.bench import measure, report, startup
from socklab.bench.options import BenchOptions, Sizes, sizes_for
from socklab.bench.results import BenchResults
from socklab.bench.stage import ServerDidNotStart, Stage
from socklab.events import recorder as events
from socklab.events.schema import Kind
from socklab.load.c_loader import CLIENTS_PER_LOADER, LoaderFailed

BUDGET = {True: 120.0, False: 600.0}  # seconds: quick, full
# What each kind of step costs here (container start, loaders, the window itself), measured on this machine.
STEP_OVERHEAD = 5.0
# One process of these holds at most 20,000 descriptors (dockerd's cap), or needs a process per client:
# more held clients than one loader's share is where they stop by design, not a figure worth minutes.
SINGLE_PROCESS = ("c-fork", "async", "thread", "fork")
STEP_ERRORS = (ServerDidNotStart, LoaderFailed, TimeoutError, docker.errors.DockerException, requests.RequestException)


@dataclass(frozen=True)
class Step:
    name: str
    estimate: float  # seconds, for the budget
    action: Callable[[], None]


def machine() -> dict[str, str]:
    import os
    import platform

    client = docker.from_env()
    try:
        info = client.info()
    finally:
        client.close()
    return {
        "cores": str(os.cpu_count()),
        "memory_gb": f"{info.get('MemTotal', 0) / 2**30:.0f}",
        "kernel": platform.release(),
        "docker": str(info.get("ServerVersion")),
        "cgroup": f"v{info.get('CgroupVersion', '1')}",
        "storage": str(info.get("Driver")),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def plan_steps(stage: Stage, options: BenchOptions, sizes: Sizes, results: BenchResults) -> list[Step]:
    versions = options.chosen
    available = [v for v in versions if image_exists(stage, stage.image(v))]
    for missing in sorted(set(versions) - set(available)):
        results.skipped.append(f"{missing}: image {stage.image(missing)} not built")
    rate_cost = sizes.rate_seconds + STEP_OVERHEAD
    steps: list[Step] = []
    for k in range(sizes.rate_rounds):  # interleaved rounds: a busy moment hits one round of each
        tag = f" ({k + 1}/{sizes.rate_rounds})" if sizes.rate_rounds > 1 else ""
        steps += [Step(f"rate {v}{tag}", rate_cost, partial(rate_round, stage, v, sizes, results)) for v in available]
        if "c-epoll" in available:
            steps.append(
                Step(
                    f"rate c-epoll, two loaders{tag}",
                    rate_cost + 1,
                    lambda: rate_round(stage, "c-epoll", sizes, results, 2),
                )
            )
    steps += [
        Step(
            f"latency {v}",
            sizes.latency_seconds + STEP_OVERHEAD,
            partial(latency, stage, v, sizes, results),
        )
        for v in available
    ]
    held_versions = [v for v in available if not sizes.held_versions or v in sizes.held_versions]
    for level in sizes.held_levels:
        if level > CLIENTS_PER_LOADER:  # the big level last but one: start-up first, it is cheap
            steps += startup_steps(stage, available, sizes, results, fifty=False)
        for v in held_versions:
            if level > CLIENTS_PER_LOADER and v in SINGLE_PROCESS:
                results.skipped.append(
                    f"held {level:,} {v}: one process per server (20,000 descriptors at most) or one per client "
                    "(pids limit 30,000): it stops below this by design"
                )
                continue
            estimate = sizes.held_delay + STEP_OVERHEAD + level / 3_000 + (20 if v in ("fork", "thread") else 0)
            steps.append(Step(f"held {level:,} {v}", estimate, partial(held, stage, v, level, sizes, results)))
    if not any(level > CLIENTS_PER_LOADER for level in sizes.held_levels):
        steps += startup_steps(stage, available, sizes, results, fifty=False)
    if sizes.compose_fifty:
        steps.append(Step("compose up → 50", 60.0, lambda: results.startup.append(startup.compose_up(stage, 50))))
    return steps


def startup_steps(
    stage: Stage, available: list[str], sizes: Sizes, results: BenchResults, *, fifty: bool
) -> list[Step]:
    steps = [
        Step(f"start {v}", 1.0 * sizes.startup_runs + 1, partial(start, stage, v, sizes, results)) for v in available
    ]
    steps.append(Step("compose up → 3", 8.0, lambda: results.startup.append(startup.compose_up(stage, 3))))
    return steps


def rate_round(stage: Stage, version: str, sizes: Sizes, results: BenchResults, loaders: int = 1) -> None:
    key = version if loaders == 1 else f"{version}×{loaders}"
    results.rate_rounds.setdefault(key, []).append(measure.measure_rate(stage, version, sizes, loaders=loaders))
    results.rates = [measure.median_row(rows) for key, rows in results.rate_rounds.items() if "×" not in key]
    results.loader_check = [measure.median_row(rows) for key, rows in results.rate_rounds.items() if "×" in key]


def latency(stage: Stage, version: str, sizes: Sizes, results: BenchResults) -> None:
    results.latency.append(measure.measure_latency(stage, version, sizes))


def held(stage: Stage, version: str, level: int, sizes: Sizes, results: BenchResults) -> None:
    """One level; a version that failed a smaller level is not tried again (it stopped there)."""
    earlier = [r for r in results.held if r.version == version and r.clients < level]
    if any(not r.all_answered for r in earlier):
        results.skipped.append(
            f"held {level:,} {version}: already failed at {min(r.clients for r in earlier if not r.all_answered):,}"
        )
        return
    results.held.append(measure.measure_held(stage, version, level, sizes.held_delay))


def start(stage: Stage, version: str, sizes: Sizes, results: BenchResults) -> None:
    seconds = [startup.run_to_first_answer(stage, version) for _ in range(sizes.startup_runs)]
    results.startup.append(startup.StartupRow(f"docker run → first answer: {version}", seconds))


def image_exists(stage: Stage, tag: str) -> bool:
    try:
        stage.docker.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


@contextlib.contextmanager
def progress_bar(total: int, quiet: bool) -> Iterator[tqdm]:
    with tqdm(total=total, file=sys.stderr, disable=quiet, unit="step", dynamic_ncols=True) as bar:
        yield bar


def run_bench(options: BenchOptions, *, quiet: bool = False) -> BenchResults:
    """Measure; write bench.md, bench.json and the plots to ``options.output``; return the results."""
    sizes = sizes_for(options.quick)
    budget = BUDGET[options.quick]
    started = time.monotonic()
    results = BenchResults(options.quick, options.chosen, machine())
    with Stage(options.image_prefix) as stage:
        steps = plan_steps(stage, options, sizes, results)
        with progress_bar(len(steps), quiet) as bar, _written(results, Path(options.output), started):
            for step in steps:
                left = budget - (time.monotonic() - started)
                bar.set_description(step.name)
                if step.estimate > left - 15:  # leave time for the report
                    results.skipped.append(
                        f"{step.name}: time budget ({left:.0f} s left, needs ~{step.estimate:.0f} s)"
                    )
                else:
                    before = _counts(results)
                    try:
                        step.action()
                    except STEP_ERRORS as exc:  # one step failing (or dockerd choking) does not lose the run
                        results.failures.append(f"{step.name}: {exc}"[:400])
                    _record_new(results, before, step.name)
                bar.update(1)
            tags = [stage.image(v) for v in options.chosen] + [stage.loader_image]
            results.image_sizes = startup.image_sizes(stage.docker, tags)
    events.emit(
        Kind.VERDICT,
        ok=not results.failures,
        text="every step measured" if not results.failures else f"{len(results.failures)} step(s) failed",
        details=[*results.failures, *(f"skipped {s}" for s in results.skipped)],
    )
    return results


# The rows a step adds, as the run's events: the list, what its value is, and the unit.
MEASURED: dict[str, tuple[Callable[[Any], float | None], str]] = {
    "rates": (lambda r: r.per_second, "conn/s"),
    "loader_check": (lambda r: r.per_second, "conn/s"),
    "latency": (lambda r: r.latency.get("p50"), "s"),
    "held": (lambda r: r.answered, "clients"),
    "startup": (lambda r: r.median, "s"),
}


def _counts(results: BenchResults) -> dict[str, int]:
    return {name: len(getattr(results, name)) for name in MEASURED}


def _record_new(results: BenchResults, before: dict[str, int], step: str) -> None:
    """One ``measurement`` event per row the step added (when the run is being recorded)."""
    for name, (value_of, unit) in MEASURED.items():
        for row in getattr(results, name)[before[name] :]:
            value = value_of(row)
            events.emit(
                Kind.MEASUREMENT,
                "bench",
                name=f"bench.{name}",
                value=None if value is None or not math.isfinite(value) else value,
                unit=unit,
                labels={"step": step, **row.to_json()},
            )


@contextlib.contextmanager
def _written(results: BenchResults, output: Path, started: float) -> Iterator[None]:
    """The results are written however the run ends (also Ctrl-C): a partial table beats none."""
    try:
        yield
    finally:
        results.seconds = time.monotonic() - started
        report.write(results, output)
