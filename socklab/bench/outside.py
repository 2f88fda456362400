"""`socklab bench outside`: the bench's servers measured with a load generator socklab did not write.

The outside tool (tcpkali by default: it keeps ``--connections`` open, opens new ones at
``--connect-rate`` as the server closes them, and sends ``A`` first on each) runs on the host and
reaches the server across the bench network's bridge, as a user's own loader would. Its conn/s and the
server's CPU per connection are read the way a user reads them: the kernel's completed connections
(``PassiveOpens`` in the server's namespace) and the server container's cgroup CPU, over the steady part
of the run (``socklab.bench.window``). Then socklab's own C loader offers the same load to a fresh server
of the same version: the rate the tool reached, started in the tool's batches (tcpkali starts its connects
once per tick of ceil(1000 / connect-rate) ms, and a Python server's CPU per connection depends on how many
arrive per turn of its loop), measured the same way: the two must agree.
"""

from __future__ import annotations

import math
import re
import shutil
import statistics
import subprocess
from dataclasses import dataclass, field
from typing import Any

from socklab.bench.measure import server_env
from socklab.bench.stage import Stage
from socklab.bench.window import Sampler, Window
from socklab.lab.lab import PORT
from socklab.load.c_loader import LoadPlan, start_time
from socklab.wire.knobs import option

EDGE = 1.0  # seconds cut off each end of the busy span: the tool's ramp-up and its tear-down
RAMP_UP_FAILED = "Could not create"
RECEIVED = re.compile(r"Total data received:.*\((\d+) bytes\)")


class ToolMissing(RuntimeError):
    """The outside tool is not on PATH; the message says how to get it."""


@dataclass(frozen=True)
class OutsideOptions:
    tool: str = option("tcpkali", "the outside load generator on the host (tcpkali; docs/bench.md: how to build it)")
    versions: tuple[str, ...] = option(("c-epoll", "epoll"), "server versions to measure, in this order each round")
    rounds: int = option(3, "rounds over the versions (interleaved); figures are medians")
    seconds: float = option(5.0, "the tool's --duration, and the socklab loader's window")
    connections: int = option(64, "the tool's --connections (each one closed by the server is reopened)")
    connect_rate: int = option(2000, "the tool's --connect-rate (new connections per second)")
    batches: bool = option(True, "socklab's loader starts its exchanges in the tool's batches, not evenly spaced")
    image_prefix: str = option("socklab", "repository prefix of the images: PREFIX/server:VERSION, PREFIX/loadgen:c")
    json: bool = option(False, "print the JSON results on stdout (the table goes to stderr)")


@dataclass(frozen=True)
class Measured:
    per_second: float  # completed connections/s (the server's kernel)
    cpu_us_per_connection: float  # the server container's cgroup CPU / those connections
    seconds: float  # the window
    answers: int = -1  # what the loader itself counted as answered (-1: not known)

    @classmethod
    def of(cls, window: Window | None, answers: int = -1) -> Measured:
        if window is None:
            return cls(math.nan, math.nan, 0.0, answers)
        return cls(window.per_second, window.cpu_us_per_connection, window.seconds, answers)


@dataclass(frozen=True)
class OutsideRow:
    version: str
    tool: Measured
    socklab: Measured  # socklab's loader at the rate the tool reached

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "tool": self.tool.__dict__, "socklab": self.socklab.__dict__}


@dataclass
class OutsideResults:
    tool: str
    command: list[str]
    rounds: int
    rows: list[OutsideRow] = field(default_factory=list)

    def medians(self, version: str) -> tuple[Measured, Measured]:
        rows = [r for r in self.rows if r.version == version]

        def med(values: list[Measured]) -> Measured:
            return Measured(
                statistics.median(v.per_second for v in values),
                statistics.median(v.cpu_us_per_connection for v in values),
                statistics.median(v.seconds for v in values),
            )

        return med([r.tool for r in rows]), med([r.socklab for r in rows])

    def to_json(self) -> dict[str, Any]:
        versions = list(dict.fromkeys(r.version for r in self.rows))
        medians = {}
        for v in versions:
            tool, own = self.medians(v)
            medians[v] = {"tool": tool.__dict__, "socklab": own.__dict__}
        return {
            "tool": self.tool,
            "command": self.command,
            "rounds_run": self.rounds,
            "rounds": [r.to_json() for r in self.rows],
            "medians": medians,
        }


def tool_command(options: OutsideOptions, address: str) -> list[str]:
    return [
        options.tool,
        "--connections",
        str(options.connections),
        "--connect-rate",
        str(options.connect_rate),
        "--first-message",
        "A",
        "--duration",
        f"{options.seconds:g}s",
        f"{address}:{PORT}",
    ]


def tool_tick(connect_rate: float) -> float:
    """tcpkali's pacing (tcpkali_run.c): its connects start in one batch per ceil(1000 / rate) ms, at most 250."""
    return min(math.ceil(1000.0 / connect_rate), 250) / 1000.0


def busy_window(sampler: Sampler) -> Window | None:
    """The steady part of a run whose start the tool decides: from a second after the server's first
    completed connection to a second before its last."""
    pairs = list(zip(sampler.samples, sampler.samples[1:], strict=False))
    busy = [a.at for a, b in pairs if b.passive_opens > a.passive_opens]
    if not busy:
        return None
    return sampler.window(busy[0] + EDGE, busy[-1] - EDGE)


def with_tool(stage: Stage, version: str, options: OutsideOptions) -> Measured:
    with stage.server(version, delay=0, env=server_env(version)) as server:
        sampler = Sampler(server.pid, server.cgroup)
        with sampler.running():
            done = subprocess.run(
                tool_command(options, server.address),
                capture_output=True,
                text=True,
                timeout=4 * options.seconds + 120,
                check=False,
            )
    # tcpkali exits 1 when it never had all its connections open at once ("Could not create N connections"):
    # the server answers and closes them as fast as they open. It loaded the server all the same, and the
    # figures are read from the server's side, so that is not a failure; anything else is.
    if done.returncode != 0 and RAMP_UP_FAILED not in done.stdout + done.stderr:
        raise RuntimeError(f"{options.tool} exited {done.returncode}: {(done.stdout + done.stderr)[-400:]}")
    received = RECEIVED.search(done.stdout + done.stderr)
    return Measured.of(busy_window(sampler), int(received.group(1)) if received else -1)


def with_socklab(stage: Stage, version: str, rate: float, seconds: float, tick: float = 0.0) -> Measured:
    plan = LoadPlan("open", threads=1, rate=rate, seconds=seconds, timeout=5.0, tick=tick)
    with stage.server(version, delay=0, env=server_env(version)) as server:
        sampler = Sampler(server.pid, server.cgroup)
        with sampler.running():
            result = stage.load(server, [plan], start_at=start_time(1))[0]
    window = sampler.window(result.started_at + EDGE, result.started_at + seconds - EDGE / 2)
    return Measured.of(window, result.ok)


def run_outside(options: OutsideOptions, progress: Any = None) -> OutsideResults:
    if shutil.which(options.tool) is None:
        raise ToolMissing(
            f"{options.tool} is not on PATH: docs/bench.md ('An outside loader') says how to build tcpkali, "
            "or pass --tool"
        )
    results = OutsideResults(options.tool, tool_command(options, "SERVER"), options.rounds)
    tick = tool_tick(options.connect_rate) if options.batches else 0.0
    with Stage(options.image_prefix) as stage:
        for k in range(options.rounds):
            for version in options.versions:
                if progress:
                    progress(f"round {k + 1}/{options.rounds}: {version} with {options.tool}")
                tool = with_tool(stage, version, options)
                rate = tool.per_second if not math.isnan(tool.per_second) else options.connect_rate
                if progress:
                    progress(f"round {k + 1}/{options.rounds}: {version} with socklab's loader at {rate:.0f}/s")
                own = with_socklab(stage, version, rate, options.seconds, tick)
                results.rows.append(OutsideRow(version, tool, own))
    return results


def markdown(results: OutsideResults) -> str:
    lines = [
        f"Outside loader: `{' '.join(results.command)}` on the host, across the bench bridge; then socklab's "
        "C loader (open loop) at the rate the tool reached, in the tool's batches. Both read from the server's "
        "side over the steady window: its kernel's completed connections, its container's cgroup CPU. Medians of "
        f"{results.rounds} rounds.",
        "",
        "| version | tool conn/s | tool CPU µs/conn | socklab conn/s | socklab CPU µs/conn | CPU socklab/tool |",
        "|---|---|---|---|---|---|",
    ]
    versions = list(dict.fromkeys(r.version for r in results.rows))
    for v in versions:
        tool, own = results.medians(v)
        agree = own.cpu_us_per_connection / tool.cpu_us_per_connection if tool.cpu_us_per_connection else math.nan
        lines.append(
            f"| {v} | {tool.per_second:,.0f} | {tool.cpu_us_per_connection:,.1f} | {own.per_second:,.0f} | "
            f"{own.cpu_us_per_connection:,.1f} | {agree:.2f} |"
        )
    if "c-epoll" in versions:
        ref_tool, ref_own = results.medians("c-epoll")
        header = "| version | × c-epoll conn/s, tool | × CPU/conn, tool | × conn/s, socklab | × CPU/conn, socklab |"
        lines += ["", header]
        lines.append("|---|---|---|---|---|")
        for v in versions:
            tool, own = results.medians(v)
            lines.append(
                f"| {v} | {tool.per_second / ref_tool.per_second:.2f}× | "
                f"{tool.cpu_us_per_connection / ref_tool.cpu_us_per_connection:.2f}× | "
                f"{own.per_second / ref_own.per_second:.2f}× | "
                f"{own.cpu_us_per_connection / ref_own.cpu_us_per_connection:.2f}× |"
            )
    return "\n".join(lines)
