"""The results as Markdown (tables, the goals of issue 9), JSON, and PNG plots."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from socklab.bench.measure import QUIET_ENV, HeldRow, RateRow
from socklab.bench.options import PYTHON_VERSIONS, sizes_for
from socklab.bench.results import BenchResults
from socklab.wire.config import ServerConfig


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def ratio(value: float | None, reference: float | None) -> str:
    if value is None or reference is None or not reference or math.isnan(value) or math.isnan(reference):
        return "n/a"
    return f"{value / reference:.2f}×"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def _by_version(rows: Sequence[RateRow]) -> dict[str, RateRow]:
    return {r.version: r for r in rows}


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _knob(name: str) -> str:
    """One of the quiet servers' variables as the environment spells it, e.g. SOCKLAB_LOG=summary."""
    variable = ServerConfig.variable(name)
    return f"{variable}={QUIET_ENV[variable]}"


def markdown(r: BenchResults) -> str:
    m = r.machine
    parts = [
        f"# socklab bench ({'quick' if r.quick else 'full'} run, {r.seconds:.0f} s)\n",
        f"Machine: {m['cores']} cores, {m['memory_gb']} GB, kernel {m['kernel']}, Docker {m['docker']} "
        f"(cgroup {m['cgroup']}, {m['storage']}), {m['date']}. Loaders: the C load generator "
        "(`socklab/loadgen:c`) in containers of their own on the bench network. Servers run with "
        f"`{_knob('log')}` (c-fork, the original, logs every connection: it has no such switch), "
        f"`{_knob('resolve_names')}`, backlog 65535 (somaxconn 65535 in the server's namespace).\n",
    ]
    rates = _by_version(r.rates)
    sizes = sizes_for(r.quick)
    epoll, fork = rates.get("c-epoll"), rates.get("c-fork")
    epoll_rate = epoll.per_second if epoll else None
    fork_rate = fork.per_second if fork else None
    epoll_cpu = epoll.cpu_us_per_connection if epoll else None
    fork_cpu = fork.cpu_us_per_connection if fork else None
    parts.append("## Connections per second at delay 0, and server CPU per connection\n")
    parts.append(
        "Closed loop (connect, one byte, answer, close), one loader container "
        f"({sizes.rate_threads} threads × {sizes.rate_concurrency} in flight); "
        "CPU from the server container's cgroup (user + system, children included) over the loader's steady "
        "window (its warm-up and tail excluded), divided by the connections the server's kernel completed in "
        "that same interval, as a user reads it with a loader of their own (`socklab bench outside` does). "
        "Rounds over all versions are interleaved; each figure is the median of its rounds.\n"
    )
    parts.append(
        table(
            ["version", "conn/s", "× c-epoll", "× c-fork", "CPU µs/conn", "× c-epoll", "× c-fork", "failed", "rounds"],
            [
                (
                    row.version,
                    fmt(row.per_second),
                    ratio(row.per_second, epoll_rate),
                    ratio(row.per_second, fork_rate),
                    fmt(row.cpu_us_per_connection),
                    ratio(row.cpu_us_per_connection, epoll_cpu),
                    ratio(row.cpu_us_per_connection, fork_cpu),
                    row.failed,
                    " / ".join(f"{x:,}" for x in row.rounds),
                )
                for row in r.rates
            ],
        )
    )
    if r.loader_check and epoll:
        two = r.loader_check[0]
        gain = two.per_second / epoll.per_second if epoll.per_second else math.nan
        verdict = (
            "the same sum within 15 %: the loader is not the bottleneck, the server and the machine are"
            if gain <= 1.15
            else "more with two: one loader was a bottleneck for this server, so compare conn/s with care; "
            "CPU per connection does not depend on the loader"
        )
        parts.append(
            f"\nIs the loader the bottleneck? c-epoll with one loader: {fmt(epoll.per_second)} conn/s; with two "
            f"(twice the offered load): {fmt(two.per_second)} conn/s in sum "
            f"({ratio(two.per_second, epoll.per_second)}, "
            f"rounds {' / '.join(f'{x:,}' for x in two.rounds)}): {verdict}. The one loader used "
            f"{epoll.loader_cpu_share:.2f} CPU-seconds per second ({m['cores']} cores in all).\n"
        )
    lat = {row.version: row for row in r.latency}
    if r.latency:
        rate = r.latency[0].rate
        parts.append(f"\n## Latency at a fixed open-loop rate ({fmt(rate)} exchanges/s, delay 0)\n")
        parts.append(
            "Each latency counts from when its exchange was due, so stalls are not hidden (no coordinated omission).\n"
        )
        ref = lat.get("c-epoll")
        parts.append(
            table(
                [
                    "version",
                    "p50 ms",
                    "p99 ms",
                    "p99.9 ms",
                    "max ms",
                    "p99 × c-epoll",
                    "p99 × c-fork",
                    "answered",
                    "failed",
                ],
                [
                    (
                        row.version,
                        fmt(ms(row.latency.get("p50")), 2),
                        fmt(ms(row.latency.get("p99")), 2),
                        fmt(ms(row.latency.get("p999")), 2),
                        fmt(ms(row.latency.get("max")), 2),
                        ratio(row.latency.get("p99"), ref.latency.get("p99") if ref else None),
                        ratio(row.latency.get("p99"), lat["c-fork"].latency.get("p99") if "c-fork" in lat else None),
                        row.ok,
                        row.failed,
                    )
                    for row in r.latency
                ],
            )
        )
    if r.held:
        parts.append("\n## Waiting clients held through the delay\n")
        parts.append(
            "N connections opened at once by ⌈N/18,000⌉ loaders (dockerd caps each process at 20,000 descriptors), "
            "each sends its byte and waits; connect-to-answer per client; memory is the server cgroup's peak; "
            "overflows and SYN cookies from the server namespace's /proc/net/netstat.\n"
        )
        parts.append(held_table(r.held))
    if r.startup or r.image_sizes:
        parts.append("\n## Start-up\n")
        parts.append(
            table(
                ["what", "median s", "runs", "ok"],
                [(s.what, fmt(s.median, 2), len(s.seconds), "yes" if s.ok else f"no {s.note}") for s in r.startup],
            )
        )
        parts.append("\n" + table(["image", "MB"], [(f"`{t}`", fmt(mb, 3)) for t, mb in r.image_sizes.items()]))
    parts.append("\n## Goals (issue 9)\n")
    parts.append(table(["goal", "measured", "met?"], goals(r)))
    if r.skipped or r.failures:
        parts.append("\n## Skipped and failed steps\n")
        parts += [f"- skipped: {s}" for s in r.skipped] + [f"- failed: {f}" for f in r.failures]
    parts.append("\n![rates](bench-rate.png)\n\n![held](bench-held.png)")
    return "\n".join(parts) + "\n"


def held_table(rows: Sequence[HeldRow]) -> str:
    return table(
        [
            "version",
            "clients",
            "workers",
            "answered",
            "wall s",
            "p50 s",
            "p99 s",
            "max s",
            "≤ delay+1 s",
            "peak MB",
            "ListenOverflows",
            "SYN cookies sent",
            "server",
            "failures",
        ],
        [
            (
                h.version,
                f"{h.clients:,}",
                h.workers,
                f"{h.answered:,}",
                fmt(h.wall_seconds, 2),
                fmt(h.latency.get("p50"), 2),
                fmt(h.latency.get("p99"), 2),
                fmt(h.latency.get("max"), 2),
                f"{h.within_delay_plus_1:.1%}" if not math.isnan(h.within_delay_plus_1) else "n/a",
                fmt(h.memory_peak_mb, 0),
                h.netstat.get("ListenOverflows", "n/a"),
                h.netstat.get("SyncookiesSent", "n/a"),
                h.server_outcome,
                ", ".join(f"{n} {k}" for k, n in h.errors.items()) or h.note or "none",
            )
            for h in rows
        ],
    )


def goals(r: BenchResults) -> list[tuple[str, str, str]]:
    rates = _by_version(r.rates)
    out: list[tuple[str, str, str]] = []
    epoll = rates.get("c-epoll")
    python = [rates[v] for v in PYTHON_VERSIONS if v in rates]
    if epoll and python:
        best = max(python, key=lambda x: x.per_second)
        rate_ratio = best.per_second / epoll.per_second if epoll.per_second else math.nan
        cpu_ratio = best.cpu_us_per_connection / epoll.cpu_us_per_connection
        out.append(
            ("best Python ≥ 0.95× c-epoll conn/s", f"{best.version}: {rate_ratio:.2f}×", yes(rate_ratio >= 0.95))
        )
        out.append(("… and ≤ 1.3× its CPU per connection", f"{best.version}: {cpu_ratio:.2f}×", yes(cpu_ratio <= 1.3)))
    if "fork" in rates and "c-fork" in rates:
        f = rates["fork"].per_second / rates["c-fork"].per_second
        out.append(("fork ≥ 0.5× c-fork conn/s", f"{f:.2f}×", yes(f >= 0.5)))
    for clients, slack, memory in ((100_000, 1.0, 400), (10_000, 0.5, 64)):
        rows = [h for h in r.held if h.clients == clients and h.version in PYTHON_VERSIONS]
        if not rows:
            out.append((f"{clients:,} held (Python), delay+{slack:g} s, ≤ {memory} MB", "not measured", "n/a"))
            continue
        held = max(rows, key=lambda h: (h.all_answered, h.within_delay_plus_1, -h.memory_peak_mb))
        share = held.within_delay_plus_1 if slack == 1.0 else held.within_delay_plus_half
        ok = held.all_answered and share >= 1.0 and held.memory_peak_mb <= memory
        out.append(
            (
                f"{clients:,} held (Python), all within delay+{slack:g} s, ≤ {memory} MB",
                f"{held.version}: {held.answered:,}/{clients:,} answered, {share:.1%} in time, "
                f"{fmt(held.memory_peak_mb)} MB",
                yes(ok),
            )
        )
    out += held_against_c(r)
    for s in r.startup:
        if s.what.startswith("compose up → 3"):
            out.append(("compose up → 3 answers ≤ 3 s", f"{s.median:.2f} s", yes(s.ok and s.median <= 3)))
        if s.what.startswith("compose up → 50"):
            out.append(("compose up → 50 answers ≤ 30 s", f"{s.median:.2f} s", yes(s.ok and s.median <= 30)))
    return out


def held_against_c(
    r: BenchResults, clients: int = 100_000, slack: float = 0.5, memory: int = 400
) -> list[tuple[str, str, str]]:
    """Issue 14's goal: epoll answers every held client, its slowest within ``slack`` s of c-epoll's
    slowest in the same run (the machine's share of accepting them is then the same), ≤ ``memory`` MB."""
    rows = {h.version: h for h in r.held if h.clients == clients}
    what = f"{clients:,} held: epoll all answered, slowest ≤ c-epoll's + {slack:g} s, ≤ {memory} MB"
    epoll, c = rows.get("epoll"), rows.get("c-epoll")
    if epoll is None or c is None:
        return [(what, "not measured", "n/a")]
    slowest, reference = epoll.latency.get("max"), c.latency.get("max")
    if slowest is None or reference is None:
        return [(what, "no answers", yes(False))]
    ok = epoll.all_answered and slowest <= reference + slack and epoll.memory_peak_mb <= memory
    return [
        (
            what,
            f"{epoll.answered:,}/{clients:,}, slowest {slowest:.2f} s vs {reference:.2f} s, "
            f"{fmt(epoll.memory_peak_mb)} MB",
            yes(ok),
        )
    ]


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def plot_rates(r: BenchResults) -> object:
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    names = [row.version for row in r.rates]
    left.bar(names, [row.per_second for row in r.rates], color="tab:blue")
    left.set_ylabel("connections/s (delay 0)")
    left.set_title("rate (higher is better)")
    right.bar(names, [row.cpu_us_per_connection for row in r.rates], color="tab:orange")
    right.set_ylabel("server CPU µs per connection")
    right.set_title("cost (lower is better)")
    for axes in (left, right):
        axes.tick_params(axis="x", rotation=30)
    figure.tight_layout()
    return figure


def plot_held(r: BenchResults) -> object:
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for version in dict.fromkeys(h.version for h in r.held):
        rows = [h for h in r.held if h.version == version]
        xs = [h.clients for h in rows]
        left.plot(xs, [h.latency.get("max") or math.nan for h in rows], marker="o", label=version)
        right.plot(xs, [h.memory_peak_mb for h in rows], marker="o", label=version)
    for axes, label in ((left, "slowest connect-to-answer (s)"), (right, "server peak memory (MB)")):
        axes.set_xscale("log")
        axes.set_xlabel("clients held at once")
        axes.set_ylabel(label)
        axes.legend(fontsize=8)
    left.set_title("held through the delay")
    figure.tight_layout()
    return figure


def strict(value: Any) -> Any:
    """The results as strict JSON values: an undefined figure (NaN, infinite) is null, as in the loader's."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    return value


def json_text(r: BenchResults, indent: int | None = None) -> str:
    """One JSON document (``json.loads`` reads it; no NaN, which JSON does not have)."""
    return json.dumps(strict(r.to_json()), indent=indent, default=str, allow_nan=False)


def write(r: BenchResults, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "bench.md").write_text(markdown(r))
    (directory / "bench.json").write_text(json_text(r, indent=1) + "\n")
    for name, figure in (("bench-rate.png", plot_rates(r)), ("bench-held.png", plot_held(r))):
        figure.savefig(directory / name, dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
        plt.close(figure)  # type: ignore[arg-type]
