"""The measurements, one function each; every one starts a fresh server so no step warms up the next.

Server CPU time comes from the server container's cgroup (its children included: a forked child's
work is counted), divided by the connections its kernel completed in the same steady window
(``socklab.bench.window``): the figure a user gets from a loader of their own.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from socklab.bench.kernel import netstat, netstat_delta
from socklab.bench.options import Sizes
from socklab.bench.stage import ServerRun, Stage
from socklab.bench.window import Sampler
from socklab.load.c_loader import (
    CLIENTS_PER_LOADER,
    LoaderFailed,
    LoadPlan,
    LoadResult,
    loaders_for,
    merge,
    start_time,
)
from socklab.wire.config import ServerConfig

# Every version is asked for the same thing; a version that does not know a variable ignores it.
# One log line per connection would be the benchmark's bottleneck (and dockerd's log driver's).
QUIET = ServerConfig(log="summary", resolve_names=False)
QUIET_ENV = QUIET.to_env()
MULTI_PROCESS = ("c-epoll", "epoll")  # versions with SOCKLAB_WORKERS: one process holds < 20,000 descriptors


def server_env(version: str, workers: int = 1) -> dict[str, str]:
    if version in MULTI_PROCESS and workers > 1:  # both are epoll models; the C one ignores SOCKLAB_MODEL
        return ServerConfig(log="summary", resolve_names=False, model="epoll", workers=workers).to_env()
    return dict(QUIET_ENV)


@dataclass(frozen=True)
class RateRow:
    version: str
    loaders: int
    per_second: float
    cpu_us_per_connection: float
    answered: int
    failed: int
    errors: dict[str, int]
    loader_cpu_share: float  # loader CPU seconds per wall second: near its thread count = loader-bound
    rounds: list[int] = field(default_factory=list)  # conn/s of each round, when this row is a median
    kernel_per_second: float = math.nan  # the server kernel's completed connections/s in the same window

    def to_json(self) -> dict[str, Any]:
        return self.__dict__ | {}


def measure_rate(stage: Stage, version: str, sizes: Sizes, loaders: int = 1) -> RateRow:
    """Closed loop at delay 0: connections per second, and the server's CPU per connection.

    Measured as a user measures with a loader of their own: the loaders are in containers across the
    bench network's bridge; the server's cgroup CPU and its kernel's completed connections are sampled on
    the host, and only the steady window counts (the loaders' warm-up and tail, and the server's start,
    are outside it).
    """
    plan = LoadPlan(
        "closed", threads=sizes.rate_threads, concurrency=sizes.rate_concurrency, seconds=sizes.rate_seconds
    )
    with stage.server(version, delay=0, env=server_env(version)) as server:
        sampler = Sampler(server.pid, server.cgroup)
        with sampler.running():
            result = merge(stage.load(server, [plan] * loaders, start_at=start_time(loaders)))
    opens = result.started_at + plan.warmup
    window = sampler.window(opens, opens + plan.seconds)
    return RateRow(
        version,
        loaders,
        result.per_second,
        window.cpu_us_per_connection if window else math.nan,
        result.answered,
        result.failed,
        result.errors,
        result.cpu_seconds / (plan.seconds + plan.warmup) / loaders,
        kernel_per_second=window.per_second if window else math.nan,
    )


def median_row(rows: list[RateRow]) -> RateRow:
    """Rounds of one version as one row: medians, so that a moment when someone else's containers
    take the CPU moves one round, not the figure; failures are summed (each one matters)."""
    first = rows[0]
    return RateRow(
        first.version,
        first.loaders,
        statistics.median(r.per_second for r in rows),
        statistics.median(r.cpu_us_per_connection for r in rows),
        sum(r.answered for r in rows),
        sum(r.failed for r in rows),
        dict(sum((Counter(r.errors) for r in rows), Counter())),
        statistics.median(r.loader_cpu_share for r in rows),
        rounds=[round(r.per_second) for r in rows],
        kernel_per_second=statistics.median(r.kernel_per_second for r in rows),
    )


@dataclass(frozen=True)
class LatencyRow:
    version: str
    rate: float
    seconds: float
    ok: int
    failed: int
    latency: dict[str, float | None]
    errors: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return self.__dict__ | {}


def measure_latency(stage: Stage, version: str, sizes: Sizes) -> LatencyRow:
    """Open loop: an exchange every 1/rate s, latency from when each was due (no coordinated omission)."""
    plan = LoadPlan("open", threads=1, rate=sizes.latency_rate, seconds=sizes.latency_seconds, timeout=10.0)
    with stage.server(version, delay=0, env=server_env(version)) as server:
        result = stage.load(server, [plan])[0]
    return LatencyRow(
        version, sizes.latency_rate, sizes.latency_seconds, result.ok, result.failed, result.latency, result.errors
    )


@dataclass
class HeldRow:
    version: str
    clients: int
    workers: int
    loaders: int
    answered: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = math.nan
    latency: dict[str, float | None] = field(default_factory=dict)
    within_delay_plus_1: float = math.nan  # share of clients answered within delay + 1 s of their connect
    within_delay_plus_half: float = math.nan
    memory_peak_mb: float = math.nan
    netstat: dict[str, int] = field(default_factory=dict)
    server_outcome: str = ""  # running / exited N / OOM-killed, and the log's last error line
    note: str = ""

    @property
    def all_answered(self) -> bool:
        return self.answered == self.clients and self.failed == 0

    def to_json(self) -> dict[str, Any]:
        return self.__dict__ | {"all_answered": self.all_answered}


def measure_held(stage: Stage, version: str, clients: int, delay: float) -> HeldRow:
    """``clients`` connections opened at once from several loaders, each held until its answer."""
    shares = loaders_for(clients)
    workers = max(1, math.ceil(clients / CLIENTS_PER_LOADER)) if version in MULTI_PROCESS else 1
    row = HeldRow(version, clients, workers, len(shares))
    plans = [LoadPlan("hold", threads=1, clients=n, timeout=delay + 25.0, samples=True) for n in shares]
    with stage.server(version, delay=delay, env=server_env(version, workers)) as server:
        server.cgroup.reset_memory_peak()
        counters_before = netstat(server.pid)
        try:
            result = merge(stage.load(server, plans))
        except LoaderFailed as exc:
            row.note = str(exc)[:300]
            row.server_outcome = outcome(server)
            return row
        row.netstat = netstat_delta(counters_before, netstat(server.pid))
        row.memory_peak_mb = server.cgroup.memory_peak() / 1e6
        row.server_outcome = outcome(server)
    fill_held(row, result, delay)
    return row


def fill_held(row: HeldRow, result: LoadResult, delay: float) -> None:
    row.answered, row.failed, row.errors = result.ok, result.failed, result.errors
    row.wall_seconds, row.latency = result.seconds, result.latency
    samples = result.samples_ms
    if samples:
        row.within_delay_plus_1 = sum(s <= (delay + 1) * 1000 for s in samples) / row.clients
        row.within_delay_plus_half = sum(s <= (delay + 0.5) * 1000 for s in samples) / row.clients


def outcome(server: ServerRun) -> str:
    state = server.state()
    if not state:
        return "gone"
    if state.get("OOMKilled"):
        return "OOM-killed"
    if state.get("Status") != "running":
        return f"exited {state.get('ExitCode')}"
    errors = [line for line in server.log_tail(200).splitlines() if " error " in f" {line} " or "Error" in line]
    return f"running; last error: {errors[-1][-160:]}" if errors else "running"


@dataclass(frozen=True)
class Timer:
    started: float = field(default_factory=time.monotonic)

    def seconds(self) -> float:
        return time.monotonic() - self.started
