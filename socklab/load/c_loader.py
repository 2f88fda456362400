"""The C load generator (``socklab/loadgen:c``, from agents/peers/loadgen.c) in containers of its own.

Why containers: the loader must not share the server's network namespace or CPU accounting, and dockerd
caps every process at 20,000 descriptors, so a hundred thousand held clients need several loaders.
They run in a ``Lab`` (its labels, cleanup and reaper). Each loader prints one JSON object; ``merge``
adds several loaders' results up into one.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from socklab.lab.topology import CLIENT_LOCKED_DOWN, Node
from socklab.load.stats import percentile

if TYPE_CHECKING:
    from socklab.lab.containers import LabContainer
    from socklab.lab.lab import Lab

Mode = Literal["closed", "open", "hold"]
DESCRIPTOR_CAP = 20_000  # dockerd's RLIMIT_NOFILE for every container process on this engine
CLIENTS_PER_LOADER = 18_000  # under the cap, with room for the loader's own descriptors
# Every loader may use (almost) all ports: 18,000 held connections need 18,000 source ports.
PORT_RANGE = "1024 65535"
START_SLACK = 0.6  # seconds between creating the loaders and their common start (plus per loader below)
START_PER_LOADER = 0.3  # dockerd starts about 4 containers a second here
# The clients' locked-down runtime, but with memory to spare: the kernel charges 18,000 sockets to the
# loader's cgroup, and a loader at the clients' 128m would measure its own limit, not the server.
LOADER_HARDENING = replace(CLIENT_LOCKED_DOWN, mem_limit="1g", pids_limit=256)


class LoaderFailed(RuntimeError):
    """A loader container did not print its JSON result (crashed, bad arguments, timed out)."""


@dataclass(frozen=True)
class LoadPlan:
    """What each loader does; every number is per loader."""

    mode: Mode
    threads: int = 1
    concurrency: int = 16  # closed: exchanges in flight per thread
    seconds: float = 3.0  # closed/open: the measured window
    warmup: float = 0.5  # closed: not counted
    rate: float = 1000.0  # open: exchanges started per second
    tick: float = 0.0  # open: start the due exchanges in one batch per tick (0: each at its own time)
    clients: int = 1000  # hold: connections opened at once
    timeout: float = 10.0  # per exchange
    samples: bool = False  # print every latency (to merge percentiles across loaders exactly)

    def arguments(self, server: str, port: int, start_at: float) -> list[str]:
        args = ["--server", server, "--port", str(port), "--mode", self.mode, "--threads", str(self.threads)]
        args += ["--timeout", f"{self.timeout:g}"]
        if start_at:
            args += ["--start-at", f"{start_at:.3f}"]
        if self.mode == "closed":
            args += ["--concurrency", str(self.concurrency), "--seconds", f"{self.seconds:g}"]
            args += ["--warmup", f"{self.warmup:g}"]
        elif self.mode == "open":
            args += ["--rate", f"{self.rate:g}", "--seconds", f"{self.seconds:g}"]
            if self.tick:
                args += ["--tick", f"{self.tick:g}"]
        else:
            args += ["--clients", str(self.clients)]
        return [*args, "--samples"] if self.samples else args

    def wall_limit(self) -> float:
        """How long a loader may run before it is called stuck."""
        busy = self.seconds + self.warmup if self.mode != "hold" else 0.0
        return START_SLACK + busy + self.timeout + 30.0


@dataclass(frozen=True)
class LoadResult:
    """One loader's JSON, or several merged (``merge``)."""

    mode: str
    ok: int  # answered correctly inside the measured window (hold: all)
    answered: int  # answered correctly at all, warm-up and tail included
    failed: int
    errors: dict[str, int]
    seconds: float  # the measured window (closed/open) or first connect to last answer (hold)
    cpu_seconds: float
    latency: dict[str, float | None]  # min, p50, p90, p99, p999, max in seconds
    started_at: float  # wall clock (epoch) of the start
    samples_ms: list[float] = field(default_factory=list, repr=False)
    loaders: int = 1

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else math.nan

    @property
    def all_ok(self) -> bool:
        return self.failed == 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadResult:
        return cls(
            mode=data["mode"],
            ok=int(data["ok"]),
            answered=int(data["answered"]),
            failed=int(data["failed"]),
            errors={k: int(v) for k, v in data["errors"].items() if v},
            seconds=float(data["seconds"]),
            cpu_seconds=float(data["cpu_seconds"]),
            latency=dict(data["latency_s"]),
            started_at=float(data["started_at"]),
            samples_ms=list(data.get("samples_ms", [])),
        )


def merge(results: Sequence[LoadResult]) -> LoadResult:
    """Several loaders as one: counts add up; percentiles come from every sample when the loaders sent
    them (``LoadPlan.samples``), else the worst loader's (an upper bound, said so by the caller)."""
    if len(results) == 1:
        return results[0]
    errors: Counter[str] = Counter()
    for r in results:
        errors.update(r.errors)
    samples = sorted(s for r in results for s in r.samples_ms)
    if samples:
        latency: dict[str, float | None] = {
            "min": samples[0] / 1000,
            **{k: percentile(samples, p) / 1000 for k, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9))},
            "max": samples[-1] / 1000,
        }
    else:
        keys = ("min", "p50", "p90", "p99", "p999", "max")
        latency = {k: max((r.latency.get(k) or math.nan) for r in results) for k in keys}
    start = min(r.started_at for r in results)
    if results[0].mode == "hold":
        seconds = max(r.started_at + r.seconds for r in results) - start
    else:
        seconds = results[0].seconds  # the same window in every loader
    return LoadResult(
        mode=results[0].mode,
        ok=sum(r.ok for r in results),
        answered=sum(r.answered for r in results),
        failed=sum(r.failed for r in results),
        errors=dict(errors),
        seconds=seconds,
        cpu_seconds=sum(r.cpu_seconds for r in results),
        latency=latency,
        started_at=start,
        samples_ms=samples,
        loaders=len(results),
    )


def loaders_for(clients: int) -> list[int]:
    """Held clients split over as few loaders as the descriptor cap allows, as evenly as possible."""
    count = max(1, math.ceil(clients / CLIENTS_PER_LOADER))
    return [clients // count + (k < clients % count) for k in range(count)]


def start_time(loaders: int) -> float:
    """A common wall-clock start (epoch seconds) late enough for ``loaders`` containers to be started."""
    return time.time() + START_SLACK + START_PER_LOADER * loaders


def _parse(container: LabContainer) -> LoadResult:
    out, err = container.stdout_and_stderr()
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            return LoadResult.from_json(json.loads(line))
    raise LoaderFailed(f"loader {container.name} printed no result: {(out + err).strip()[-500:]}")


def run_loaders(
    lab: Lab,
    *,
    image: str,
    server: str,
    plans: Sequence[LoadPlan],
    port: int = 9736,
    addresses: Sequence[str | None] = (),
    start_at: float | None = None,
) -> list[LoadResult]:
    """One loader container per plan in ``lab``, all started together (a common wall-clock start);
    ``addresses`` pins their IPs (reused tuples keep the host's conntrack table small). Removed after.

    ``start_at`` (epoch seconds, see ``start_time``) fixes that start in advance, so that the caller can
    read the server's counters at the moments the measured window opens and closes."""
    # One loader starts at once; several start together at a wall-clock moment after all were started.
    if start_at is None:
        start_at = start_time(len(plans)) if len(plans) > 1 else 0.0
    nodes = [
        Node(
            lab.new_role("loader"),
            image,
            command=tuple(plan.arguments(server, port, start_at)),
            ipv4_address=addresses[k] if k < len(addresses) else None,
            hardening=LOADER_HARDENING,
            extra={"sysctls": {"net.ipv4.ip_local_port_range": PORT_RANGE}},
        )
        for k, plan in enumerate(plans)
    ]
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            containers = list(pool.map(lab.add, nodes))
        limit = max(p.wall_limit() for p in plans) + START_PER_LOADER * len(plans)
        for container in containers:
            status = container.wait(limit)
            if status == -1:
                raise LoaderFailed(f"loader {container.name} did not finish within {limit:.0f} s: {_tail(container)}")
            if status != 0:
                raise LoaderFailed(f"loader {container.name} exited {status}: {_tail(container)}")
        return [_parse(c) for c in containers]
    finally:
        # Also the loaders of a failed start: each holds a fixed address the next step needs.
        for node in nodes:
            if (loader := lab.containers.get(node.role)) is not None:
                lab.remove(loader)


def _tail(container: LabContainer) -> str:
    return container.logs().strip()[-500:]
