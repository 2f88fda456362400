"""Throughput of each server version, from the host to the server container's address on the lab network.

(a) sequential: one connection at a time, delay 0, for a fixed time → exchanges/s and latency;
    this is the per-connection cost of the model (a fork, a thread, a callback) with nothing in parallel.
(b) burst: C connections opened at once, delay 1 → time until all are answered, per-connection
    percentiles and unanswered connections, with the default listen() backlog 5 and with SOCKLAB_BACKLOG=128. When
    connections arrive faster than the server accept()s them, a full accept queue makes the kernel drop
    SYNs, and the client retransmits them after 1 s, 3 s, 7 s: the backlog effect the lab exists to show.
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from socklab.bench.tables import (
    CLIENT_IMAGE,
    SERVER_VERSIONS,
    ImageLog,
    fmt,
    markdown_table,
    percentile,
    server_image,
    write_results,
)
from socklab.lab.lab import Lab
from socklab.load import python_load
from socklab.load.python_load import Burst
from socklab.progress import Progress, to_stderr
from socklab.wire.config import ServerConfig

BURST_DELAY = 1.0
DEFAULT_BACKLOG = 5  # the servers' own default (server/config.py, agents/peers/server.c)


@dataclass(frozen=True)
class Sequential:
    """One sequential run; its rate is the median over one-second slices, so that a moment when someone
    else's containers take the CPU moves one slice, not the whole number."""

    version: str
    latencies: list[float]
    finished_at: list[float]  # seconds since the run started, one per exchange answered
    slices: int
    failures: int

    def slice_rates(self) -> list[float]:
        counts = Counter(min(int(t), self.slices - 1) for t in self.finished_at)
        return [float(counts.get(k, 0)) for k in range(self.slices)]

    @property
    def rate(self) -> float:
        return statistics.median(self.slice_rates())


@dataclass(frozen=True)
class BurstRow:
    """Repeated bursts of one (version, backlog, C); statistics are medians over the repeats, since one
    burst on a shared 2-core machine can be hit by someone else's work."""

    version: str
    backlog: int
    connections: int
    bursts: list[Burst]

    def median(self, statistic: Callable[[Burst], float]) -> float:
        return statistics.median(statistic(b) for b in self.bursts)

    @property
    def failures(self) -> int:
        """Summed, not a median: every failed connection matters."""
        return sum(b.failures.total() for b in self.bursts)

    @property
    def failure_kinds(self) -> str:
        kinds: Counter[str] = Counter()
        for burst in self.bursts:
            kinds.update(burst.failures)
        return ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())


def total_of(burst: Burst) -> float:
    """Time until all were answered; ``inf`` when some never were."""
    return math.inf if burst.failures else burst.total


def elapsed_of(burst: Burst) -> float:
    """Time until every connection was answered or gave up: what the burst cost, failures included."""
    return burst.total


def p50_of(burst: Burst) -> float:
    return percentile(burst.latencies, 50)


def p99_of(burst: Burst) -> float:
    return percentile(burst.latencies, 99)


def max_of(burst: Burst) -> float:
    return percentile(burst.latencies, 100)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="socklab bench backlog", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--versions", nargs="+", default=list(SERVER_VERSIONS), help="server tags to measure")
    parser.add_argument("--seconds", type=int, default=5, help="sequential run per version (1-s slices)")
    parser.add_argument("--connections", type=int, nargs="+", default=[50, 200], help="burst sizes C")
    parser.add_argument(
        "--backlogs", type=int, nargs="+", default=[DEFAULT_BACKLOG, 128], help="the listen() backlogs to measure"
    )
    parser.add_argument("--burst-repeat", type=int, default=3, help="bursts per (version, backlog, C)")
    parser.add_argument(
        "--server-env",
        type=env_pair,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra server variable as NAME=VALUE, as the server image reads them (repeatable)",
    )
    parser.add_argument("--name", default="throughput", help="results/NAME.md and results/NAME.png")
    parser.add_argument("--timeout", type=float, default=12.0, help="burst connection give-up time (s)")
    args = parser.parse_args(argv)
    args.server_env = dict(args.server_env)
    return args


def env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"want KEY=VALUE, got {text!r}")
    return key, value


# --- (a) sequential ---------------------------------------------------------------------------------------
def run_sequential(version: str, address: str, port: int, seconds: int) -> Sequential:
    """Exchange after exchange until ``seconds`` are up; a failed exchange is counted, not retried."""
    slices = max(1, seconds)
    run = python_load.sequential(address, port, slices)
    return Sequential(version, run.latencies, run.finished_at, slices, run.failures)


def run_burst(address: str, port: int, connections: int, timeout: float) -> Burst:
    return python_load.burst(address, port, connections, timeout)


# --- driving the labs ---------------------------------------------------------------------------------------
def lab_for(version: str, delay: float, backlog: int, extra_env: dict[str, str]) -> Lab:
    """A fresh lab per setting: delay and backlog are fixed when the server calls listen()."""
    return Lab(
        server_image=server_image(version),
        client_image=CLIENT_IMAGE,
        delay=delay,
        purpose="bench",
        server_env={**ServerConfig(backlog=backlog).to_env(), **extra_env},
    )


def measure_sequential(version: str, args: argparse.Namespace, images: ImageLog, progress: Progress) -> Sequential:
    with lab_for(version, 0.0, DEFAULT_BACKLOG, args.server_env) as lab:
        images.note(version, lab.server.get_wrapped_container().attrs["Image"])  # type: ignore[union-attr]
        result = run_sequential(version, lab.server_address(), lab.port, args.seconds)
    progress(f"{version}: {result.rate:.0f} exchanges/s sequential, {result.failures} failed")
    return result


def measure_bursts(
    version: str, backlog: int, args: argparse.Namespace, images: ImageLog, progress: Progress
) -> list[BurstRow]:
    rows = []
    with lab_for(version, BURST_DELAY, backlog, args.server_env) as lab:
        images.note(version, lab.server.get_wrapped_container().attrs["Image"])  # type: ignore[union-attr]
        address = lab.server_address()
        for connections in args.connections:
            bursts = []
            for _ in range(args.burst_repeat):
                burst = run_burst(address, lab.port, connections, args.timeout)
                bursts.append(burst)
                progress(
                    f"{version} backlog {backlog} C={connections}: all done in {burst.total:.2f} s, "
                    f"p99 {seconds(p99_of(burst))}, failed: {dict(burst.failures) or 0}"
                )
            rows.append(BurstRow(version, backlog, connections, bursts))
    return rows


def seconds(value: float) -> str:
    return "unanswered" if math.isinf(value) else f"{value:.2f}"


# --- report -------------------------------------------------------------------------------------------------
def render(sequential: list[Sequential], bursts: list[BurstRow], args: argparse.Namespace, images: ImageLog) -> str:
    seq_table = markdown_table(
        ["server", "exchanges/s (median)", "min–max per 1-s slice", "p50 (ms)", "p99 (ms)", "exchanges", "failed"],
        [
            (
                s.version,
                f"{s.rate:.0f}",
                f"{min(s.slice_rates()):.0f}–{max(s.slice_rates()):.0f}",
                fmt(percentile(s.latencies, 50) * 1e3),
                fmt(percentile(s.latencies, 99) * 1e3),
                len(s.latencies),
                s.failures,
            )
            for s in sequential
        ],
    )
    burst_table = markdown_table(
        ["server", "backlog", "C", "all answered (s)", "p50 (s)", "p99 (s)", "max (s)", "unanswered"],
        [
            (
                r.version,
                r.backlog,
                r.connections,
                seconds(r.median(total_of)),
                seconds(r.median(p50_of)),
                seconds(r.median(p99_of)),
                seconds(r.median(max_of)),
                f"{r.failures}/{r.connections * len(r.bursts)}" + (f" ({r.failure_kinds})" if r.failures else ""),
            )
            for r in bursts
        ],
    )
    env = " ".join(f"`{k}={v}`" for k, v in args.server_env.items()) or "none (the images' defaults)"
    return "\n".join(
        [
            f"Extra server environment: {env}. {images.markdown()}\n",
            f"## Sequential exchanges from the host (delay 0, one connection at a time, {args.seconds} s; "
            "exchanges/s is the median over 1-s slices)\n",
            seq_table,
            f"\n## Burst: C connections at once (delay {BURST_DELAY:g}; median of {args.burst_repeat} "
            "bursts; per-connection time from connect() to the answer; unanswered summed over the bursts)\n",
            f"A connection with no answer within --timeout {args.timeout:g} s (the client gives up; the kernel "
            "might still have completed it later) counts as infinitely slow, so a column reads `unanswered` when "
            "the median burst had such connections at that rank.\n",
            burst_table,
            f"\n![throughput]({args.name}.png)",
        ]
    )


def plot(sequential: list[Sequential], bursts: list[BurstRow]) -> object:
    """Left: sequential exchanges/s. Right: burst time until all answered, one bar per (C, backlog)."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1, 2]})
    left.bar([s.version for s in sequential], [s.rate for s in sequential], color="tab:blue")
    left.set_ylabel("exchanges/s")
    left.set_title("sequential, delay 0")
    versions = list(dict.fromkeys(r.version for r in bursts))
    settings = list(dict.fromkeys((r.connections, r.backlog) for r in bursts))
    width = 0.8 / max(1, len(settings))
    for k, (connections, backlog) in enumerate(settings):
        by_version = {r.version: r for r in bursts if (r.connections, r.backlog) == (connections, backlog)}
        heights = [by_version[v].median(elapsed_of) if v in by_version else 0.0 for v in versions]
        positions = [i + (k - (len(settings) - 1) / 2) * width for i in range(len(versions))]
        right.bar(positions, heights, width, label=f"C={connections}, backlog {backlog}")
        for x, version in zip(positions, versions, strict=True):
            row = by_version.get(version)
            if row is not None and row.failures:
                right.annotate(
                    f"{row.failures}/{row.connections * len(row.bursts)}\nunanswered",
                    (x, row.median(elapsed_of)),
                    ha="center",
                    fontsize=7,
                    xytext=(0, 2),
                    textcoords="offset points",
                )
    right.set_ylim(0, right.get_ylim()[1] * 1.15)  # room for the "unanswered" notes
    right.axhline(BURST_DELAY, color="gray", linestyle=":", linewidth=1)
    right.set_xticks(range(len(versions)), versions)
    right.set_ylabel("seconds until all answered or gave up (median)")
    right.set_title(f"burst, delay {BURST_DELAY:g} (dotted: the delay itself)")
    right.legend(fontsize=8)
    figure.tight_layout()
    return figure


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    progress = to_stderr("bench backlog")
    sequential: list[Sequential] = []
    bursts: list[BurstRow] = []
    images = ImageLog()
    for version in args.versions:
        sequential.append(measure_sequential(version, args, images, progress))
        for backlog in args.backlogs:
            bursts += measure_bursts(version, backlog, args, images, progress)
    markdown = render(sequential, bursts, args, images)
    print(markdown)
    md_path, png_path = write_results(args.name, markdown, plot(sequential, bursts))
    progress(f"wrote {md_path} and {png_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
