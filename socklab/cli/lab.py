"""Throwaway labs from the command line: ``run``, ``matrix``, ``swap``."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

from socklab.cli.command import add_command
from socklab.cli.exit_codes import ExitCode
from socklab.events import recorder as events
from socklab.events.options import RecordOptions
from socklab.events.schema import Kind
from socklab.lab.lesson import run_lab
from socklab.lab.report import LabReport
from socklab.progress import to_stderr
from socklab.wire.config import DELAY
from socklab.wire.knobs import option

DEFAULT_SERVER = "socklab/server:latest"
DEFAULT_CLIENT = "socklab/client:latest"


def _check_clients(clients: int) -> None:
    if clients < 1:
        raise ValueError(f"clients {clients} must be at least 1")


def _check_delay(delay: float) -> None:
    DELAY.check("delay", delay)  # the server's own rule (wire.config): finite, 0..86400


@dataclass(frozen=True)
class RunOptions(RecordOptions):
    clients: int = option(3, "how many client containers at once")
    server_image: tuple[str, ...] = option(
        (), f"server image to run; repeat to compare versions (default {DEFAULT_SERVER})", env="SERVER_IMAGE"
    )
    client_image: str = option(DEFAULT_CLIENT, "client image", env="CLIENT_IMAGE")
    delay: float = option(5.0, "seconds the server waits before answering", metavar="SECONDS")
    json: bool = option(False, "print JSON instead of the table")
    timeline: str = option("", "draw one bar per client, connect to answer (.png, .svg or .pdf)", metavar="FILE")

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_clients(self.clients)
        _check_delay(self.delay)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _print_report(report: LabReport) -> None:
    print(f"server {report.server_image}, client {report.client_image}, delay {report.delay:g} s")
    print(f"{'client':<16} {'address':<21} {'answer':<7} {'connect s':>9} {'answer s':>9}  outcome")
    for run in report.runs:
        r = run.result
        answer = repr(run.received) if run.received is not None else "-"
        who = run.role or "-".join(run.name.rsplit("-", 2)[-2:])  # client-5, as the page and the verdict say
        if r is None:  # a client that prints no record: its answer line and its exit code
            print(f"{who:<16} {'-':<21} {answer:<7} {'-':>9} {'-':>9}  exit {run.exit_code}")
            continue
        print(
            f"{who[:16]:<16} {r.address or '-':<21} {answer:<7} "
            f"{_seconds(r.connect_seconds):>9} {_seconds(r.answer_seconds):>9}  {r.outcome}"
        )
    judged = "" if report.judged_by in ("clients", "nothing") else f" (judged from the {report.judged_by})"
    print(report.verdict.summary() + judged)


def run(options: RunOptions) -> ExitCode:
    servers = options.server_image or (DEFAULT_SERVER,)
    reports = []
    for server in servers:
        report = run_lab(
            clients=options.clients,
            server_image=server,
            client_image=options.client_image,
            delay=options.delay,
            progress=to_stderr("run"),
        )
        reports.append(report)
        if not options.json:
            _print_report(report)
            print()
    if options.json:
        print(json.dumps([r.as_json() for r in reports] if len(reports) > 1 else reports[0].as_json()))
    if options.timeline:
        from socklab.analysis.timeline import Lane, draw_timeline

        lanes = [Lane(r.server_image, list(r.intervals), r.delay, len(r.runs), r.judged_by) for r in reports]
        print(f"timeline: {draw_timeline(lanes, options.timeline)}", file=sys.stderr)
    ok = all(r.verdict.concurrent and all(run.exit_code == 0 for run in r.runs) for r in reports)
    return ExitCode.OK if ok else ExitCode.FAILED


@dataclass(frozen=True)
class MatrixOptions:
    server_image: tuple[str, ...] = option((), "a server image (repeatable; default: every version)")
    client_image: tuple[str, ...] = option((), "a client image (repeatable; default: every client)")
    clients: int = option(2, "clients of each image per server")
    delay: float = option(0.5, "the servers' delay", metavar="SECONDS")
    json: bool = option(False, "print JSON instead of the grid")

    def __post_init__(self) -> None:
        _check_clients(self.clients)
        _check_delay(self.delay)


def matrix(options: MatrixOptions) -> ExitCode:
    from socklab.checks.matrix import DEFAULT_CLIENTS, DEFAULT_SERVERS, run_matrix

    result = run_matrix(
        servers=list(options.server_image or DEFAULT_SERVERS),
        clients=list(options.client_image or DEFAULT_CLIENTS),
        per_pair=options.clients,
        delay=options.delay,
        progress=to_stderr("matrix"),
    )
    print(json.dumps(result.as_json()) if options.json else result.grid())
    return ExitCode.OK if result.ok else ExitCode.FAILED


@dataclass(frozen=True)
class SwapOptions(RecordOptions):
    from_image: str = option("", "the server image running first", metavar="FROM", positional=True)
    to_image: str = option("", "the server image that replaces it", metavar="TO", positional=True)
    client_image: str = option(DEFAULT_CLIENT, "client image", env="CLIENT_IMAGE")
    clients: int = option(4, "client containers making exchanges meanwhile")
    exchanges: int = option(15, "exchanges each client makes, one after another")
    delay: float = option(0.5, "the servers' delay", metavar="SECONDS")
    json: bool = option(False, "print JSON instead of the summary")

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_clients(self.clients)
        _check_delay(self.delay)
        if self.exchanges < 1:
            raise ValueError(f"exchanges {self.exchanges} must be at least 1")


def swap(options: SwapOptions) -> ExitCode:
    from socklab.checks.swap import swap_under_load

    report = swap_under_load(
        from_image=options.from_image,
        to_image=options.to_image,
        client_image=options.client_image,
        clients=options.clients,
        exchanges=options.exchanges,
        delay=options.delay,
        progress=to_stderr("swap"),
    )
    events.emit(Kind.VERDICT, ok=report.lost == 0, text=report.summary(), details=[])
    if options.json:
        print(json.dumps({**asdict(report), "lost": report.lost, "swap_seconds": report.swap_seconds}))
    else:
        print(report.summary())
    return ExitCode.OK if report.lost == 0 else ExitCode.FAILED


def register(sub: Any) -> None:
    add_command(
        sub,
        "run",
        "a throwaway lab: N clients at once, a row each, a concurrency verdict",
        RunOptions,
        run,
        epilog="example:\n  socklab run --clients 5 --delay 3 --server-image socklab/server:fork "
        "--server-image socklab/server:serial --timeline timeline.png",
    )
    add_command(
        sub, "matrix", "every client image against every server image: a grid of answers", MatrixOptions, matrix
    )
    add_command(sub, "swap", "replace the server version under load; count what was lost", SwapOptions, swap)
