"""The benchmark's instruments on a real container: cgroup CPU and memory, netstat, the loaders.
Figures are checked for being measured (present, positive, consistent), never for being fast."""

from __future__ import annotations

import math

import pytest

from socklab.bench.measure import measure_held, measure_latency, measure_rate
from socklab.bench.options import QUICK
from socklab.bench.stage import Stage

pytestmark = pytest.mark.lab


def test_rate_and_cpu_per_connection_are_measured(stage: Stage) -> None:
    row = measure_rate(stage, "c-epoll", QUICK)
    assert row.failed == 0 and row.answered > 0 and row.per_second > 0
    assert 0 < row.cpu_us_per_connection < math.inf  # the server's cgroup was read before and after


def test_open_loop_latency_has_every_percentile(stage: Stage) -> None:
    row = measure_latency(stage, "epoll", QUICK)
    assert row.failed == 0 and row.ok == QUICK.latency_rate * QUICK.latency_seconds
    values = [row.latency[k] for k in ("p50", "p99", "p999", "max")]
    assert all(v is not None for v in values) and values == sorted(values)


def test_held_clients_report_memory_and_kernel_counters(stage: Stage) -> None:
    row = measure_held(stage, "async", 1_000, delay=1.0)
    assert row.all_answered, row
    assert row.memory_peak_mb > 1 and row.within_delay_plus_1 == 1.0
    assert set(row.netstat) >= {"ListenOverflows", "SyncookiesSent"}
    assert row.server_outcome == "running"
