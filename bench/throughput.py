"""Throughput of each server version, from the host to the server container's address on the lab network.

(a) sequential: one connection at a time, SOCKLAB_DELAY=0, for a fixed time → exchanges/s and latency;
    this is the per-connection cost of the model (a fork, a thread, a callback) with nothing in parallel.
(b) burst: C connections opened at once, SOCKLAB_DELAY=1 → time until all are answered, per-connection
    percentiles and failures, with the default listen() backlog 5 and with SOCKLAB_BACKLOG=128. When
    connections arrive faster than the server accept()s them, a full accept queue makes the kernel drop
    SYNs, and the client retransmits them after 1 s, 3 s, 7 s: the backlog effect the lab exists to show.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from socklab.lab import Lab
from socklab.progress import Progress, to_stderr

from .common import (
    CLIENT_IMAGE,
    SERVER_VERSIONS,
    exchange,
    fmt,
    markdown_table,
    percentile,
    server_image,
    write_results,
)

BURST_DELAY = 1.0
DEFAULT_BACKLOG = 5  # the servers' own default (server/config.py, peers/server.c)


@dataclass(frozen=True)
class Sequential:
    version: str
    seconds: float
    latencies: list[float]
    failures: int

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds


@dataclass(frozen=True)
class Burst:
    """One burst: per-connection seconds of those answered, how many failed, and the time until every
    connection had its answer (or gave up)."""

    latencies: list[float]
    failures: int
    total: float


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
        return sum(b.failures for b in self.bursts)


def total_of(burst: Burst) -> float:
    return burst.total


def p50_of(burst: Burst) -> float:
    return percentile(burst.latencies, 50)


def p99_of(burst: Burst) -> float:
    return percentile(burst.latencies, 99)


def max_of(burst: Burst) -> float:
    return percentile(burst.latencies, 100)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.throughput", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--versions", nargs="+", default=list(SERVER_VERSIONS), help="server tags to measure")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of the sequential run per version")
    parser.add_argument("--connections", type=int, nargs="+", default=[50, 200], help="burst sizes C")
    parser.add_argument("--backlogs", type=int, nargs="+", default=[DEFAULT_BACKLOG, 128], help="SOCKLAB_BACKLOG")
    parser.add_argument("--burst-repeat", type=int, default=3, help="bursts per (version, backlog, C)")
    parser.add_argument("--timeout", type=float, default=20.0, help="a burst connection failing after this long")
    return parser.parse_args(argv)


# --- (a) sequential ---------------------------------------------------------------------------------------
def run_sequential(version: str, address: str, port: int, seconds: float) -> Sequential:
    """Exchange after exchange until ``seconds`` are up; a failed exchange is counted, not retried."""
    latencies: list[float] = []
    failures = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        try:
            latencies.append(exchange(address, port, timeout=5.0))
        except OSError:
            failures += 1
    return Sequential(version, elapsed, latencies, failures)


# --- (b) burst ----------------------------------------------------------------------------------------------
async def _one(address: str, port: int, timeout: float) -> float | None:
    """One connection of the burst: seconds from connect() to the answer, or None if it failed."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(address, port)
            try:
                writer.write(b"A")
                answer = await reader.read(1)
            finally:
                writer.close()
    except (OSError, TimeoutError):
        return None
    return time.perf_counter() - started if answer == b"B" else None


async def _burst(address: str, port: int, connections: int, timeout: float) -> Burst:
    """All connections started in one loop turn, so their SYNs leave the host back to back."""
    started = time.perf_counter()
    results = await asyncio.gather(*(_one(address, port, timeout) for _ in range(connections)))
    answered = [r for r in results if r is not None]
    return Burst(answered, connections - len(answered), time.perf_counter() - started)


def run_burst(address: str, port: int, connections: int, timeout: float) -> Burst:
    return asyncio.run(_burst(address, port, connections, timeout))


# --- driving the labs ---------------------------------------------------------------------------------------
def lab_for(version: str, delay: float, backlog: int) -> Lab:
    """A fresh lab per setting: delay and backlog are fixed when the server calls listen()."""
    return Lab(
        server_image=server_image(version),
        client_image=CLIENT_IMAGE,
        delay=delay,
        purpose="bench",
        server_env={"SOCKLAB_BACKLOG": str(backlog)},
    )


def measure_sequential(version: str, seconds: float, progress: Progress) -> Sequential:
    with lab_for(version, 0.0, DEFAULT_BACKLOG) as lab:
        result = run_sequential(version, lab.server_address(), lab.port, seconds)
    progress(f"{version}: {result.rate:.0f} exchanges/s sequential, {result.failures} failed")
    return result


def measure_bursts(version: str, backlog: int, args: argparse.Namespace, progress: Progress) -> list[BurstRow]:
    rows = []
    with lab_for(version, BURST_DELAY, backlog) as lab:
        address = lab.server_address()
        for connections in args.connections:
            bursts = []
            for _ in range(args.burst_repeat):
                burst = run_burst(address, lab.port, connections, args.timeout)
                bursts.append(burst)
                progress(
                    f"{version} backlog {backlog} C={connections}: all done in {burst.total:.2f} s, "
                    f"p99 {p99_of(burst):.2f} s, {burst.failures} failed"
                )
            rows.append(BurstRow(version, backlog, connections, bursts))
    return rows


# --- report -------------------------------------------------------------------------------------------------
def render(sequential: list[Sequential], bursts: list[BurstRow], args: argparse.Namespace) -> str:
    seq_table = markdown_table(
        ["server", "exchanges/s", "p50 (ms)", "p99 (ms)", "exchanges", "failed"],
        [
            (
                s.version,
                f"{s.rate:.0f}",
                fmt(percentile(s.latencies, 50) * 1e3),
                fmt(percentile(s.latencies, 99) * 1e3),
                len(s.latencies),
                s.failures,
            )
            for s in sequential
        ],
    )
    burst_table = markdown_table(
        ["server", "backlog", "C", "all answered (s)", "p50 (s)", "p99 (s)", "max (s)", "failed"],
        [
            (
                r.version,
                r.backlog,
                r.connections,
                fmt(r.median(total_of)),
                fmt(r.median(p50_of)),
                fmt(r.median(p99_of)),
                fmt(r.median(max_of)),
                f"{r.failures}/{r.connections * len(r.bursts)}",
            )
            for r in bursts
        ],
    )
    return "\n".join(
        [
            f"## Sequential exchanges from the host (SOCKLAB_DELAY=0, one connection at a time, {args.seconds:g} s)\n",
            seq_table,
            f"\n## Burst: C connections at once (SOCKLAB_DELAY={BURST_DELAY:g}; median of {args.burst_repeat} "
            "bursts; per-connection time from connect() to the answer; failed summed over the bursts)\n",
            burst_table,
            "\n![throughput](throughput.png)",
        ]
    )


def plot(sequential: list[Sequential], bursts: list[BurstRow]) -> object:
    """Left: sequential exchanges/s. Right: burst time until all answered, one bar per (C, backlog)."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1, 2]})
    left.bar([s.version for s in sequential], [s.rate for s in sequential], color="tab:blue")
    left.set_ylabel("exchanges/s")
    left.set_title("sequential, SOCKLAB_DELAY=0")
    versions = list(dict.fromkeys(r.version for r in bursts))
    settings = list(dict.fromkeys((r.connections, r.backlog) for r in bursts))
    width = 0.8 / max(1, len(settings))
    for k, (connections, backlog) in enumerate(settings):
        by_version = {r.version: r for r in bursts if (r.connections, r.backlog) == (connections, backlog)}
        heights = [by_version[v].median(total_of) if v in by_version else 0.0 for v in versions]
        positions = [i + (k - (len(settings) - 1) / 2) * width for i in range(len(versions))]
        right.bar(positions, heights, width, label=f"C={connections}, backlog {backlog}")
    right.axhline(BURST_DELAY, color="gray", linestyle=":", linewidth=1)
    right.set_xticks(range(len(versions)), versions)
    right.set_ylabel("seconds until all answered (median)")
    right.set_title(f"burst, SOCKLAB_DELAY={BURST_DELAY:g} (dotted: the delay itself)")
    right.legend(fontsize=8)
    figure.tight_layout()
    return figure


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    progress = to_stderr("bench.throughput")
    sequential: list[Sequential] = []
    bursts: list[BurstRow] = []
    for version in args.versions:
        sequential.append(measure_sequential(version, args.seconds, progress))
        for backlog in args.backlogs:
            bursts += measure_bursts(version, backlog, args, progress)
    markdown = render(sequential, bursts, args)
    print(markdown)
    md_path, png_path = write_results("throughput", markdown, plot(sequential, bursts))
    progress(f"wrote {md_path} and {png_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
