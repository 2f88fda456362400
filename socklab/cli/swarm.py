"""``socklab swarm up`` / ``socklab swarm down``: the lab as a Docker Swarm stack, across real engines."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from socklab.cli.command import add_command
from socklab.cli.exit_codes import ExitCode
from socklab.events import recorder as events
from socklab.events.lines import client_events
from socklab.events.schema import Kind
from socklab.progress import to_stderr
from socklab.swarm.cluster import ClusterError
from socklab.swarm.host import NotInSwarm, SwarmStateError
from socklab.swarm.node_image import NodeImageError
from socklab.swarm.run import SwarmUpOptions, UpReport, run_swarm_down, run_swarm_up
from socklab.swarm.stack import StackError
from socklab.wire.knobs import option

UP_EPILOG = """examples:
  socklab swarm up --clients 3 --init      # this engine as a one-node swarm (left again by `swarm down`)
  socklab swarm up --clients 4 --nodes 3   # three Docker engines on this machine: server on node1, clients on 2 and 3
  socklab swarm down
"""


@dataclass(frozen=True)
class SwarmDownOptions:
    """``swarm down`` removes what ``swarm up`` left, and only that."""

    node_image: bool = option(False, "also remove the cached Docker-in-Docker node image (rebuilt when needed)")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_report(report: UpReport) -> None:
    run = report.run
    print(f"swarm: {report.where}")
    print(f"images: {report.distribution}")
    for note in report.notes:
        print(note)
    print(f"{'node':<8} {'client host':<14} {'address':<21} {'answer':<7} {'seconds':>8}  outcome")
    for row in run.rows:
        r = row.result
        if r is None:
            print(f"{row.node:<8} {'task ' + row.task:<14} {'-':<21} {'-':<7} {'-':>8}  {row.state}: {row.error}")
            continue
        answer = repr(r.received_char) if r.received_char is not None else "-"
        seconds = _seconds(r.answer_seconds)
        print(f"{row.node:<8} {r.host:<14} {r.address or '-':<21} {answer:<7} {seconds:>8}  {r.outcome}")
    print(run.verdict.summary())
    formed = f", swarm formed in {report.formation_seconds:.1f} s" if report.formation_seconds is not None else ""
    print(f"{len(run.rows)} client tasks finished {run.seconds:.1f} s after `docker stack deploy`{formed}")
    print(report.keep)


def report_json(report: UpReport) -> dict[str, Any]:
    return {
        "where": report.where,
        "distribution": report.distribution,
        "notes": list(report.notes),
        "seconds": report.run.seconds,
        "formation_seconds": report.formation_seconds,
        "clients": [
            {"node": row.node, "task": row.task, "state": row.state, "error": row.error}
            | (json.loads(row.result.to_json()) if row.result else {})
            for row in report.run.rows
        ],
        "verdict": {
            "concurrent": report.run.verdict.concurrent,
            "overlap": report.run.verdict.overlap,
            "slowest": report.run.verdict.slowest,
            "reasons": list(report.run.verdict.reasons),
        },
    }


def up(options: SwarmUpOptions) -> ExitCode:
    try:
        report = run_swarm_up(options=options, progress=to_stderr("swarm"))
    except NotInSwarm as exc:
        print(f"socklab swarm up: {exc}")
        return ExitCode.USAGE
    except (SwarmStateError, StackError, ClusterError, NodeImageError) as exc:
        print(f"socklab swarm up: {exc}")
        return ExitCode.FAILED
    record_swarm(report)
    if options.json:
        print(json.dumps(report_json(report)))
    else:
        print_report(report)
    return ExitCode.OK if report.ok else ExitCode.FAILED


def record_swarm(report: UpReport) -> None:
    """The stack's client tasks and verdict as the run's events (when it is being recorded)."""
    if not events.recording():
        return
    for row in report.run.rows:
        host = f"{row.node}/task-{row.task}"
        if row.result is None:
            events.emit(Kind.FAILED, host, error=f"{row.state}: {row.error}", seconds=None)
            continue
        events.emit(Kind.HOST, host, role="client", address=row.result.address, image="", version=row.node)
        for event in client_events(row.result):
            events.emit(event.kind, host, t=event.t, **event.data)
    verdict = report.run.verdict
    events.emit(Kind.VERDICT, ok=report.ok, text=verdict.summary(), details=[report.where, *report.notes])


def down(options: SwarmDownOptions) -> ExitCode:
    try:
        done = run_swarm_down(node_image=options.node_image, progress=to_stderr("swarm"))
    except (SwarmStateError, StackError) as exc:
        print(f"socklab swarm down: {exc}")
        return ExitCode.FAILED
    for line in done:
        print(line)
    if not done:
        print("nothing to remove")
    return ExitCode.OK


def register(sub: Any) -> None:
    swarm = sub.add_parser(
        "swarm",
        help="the lab as a Docker Swarm stack: on this engine's swarm, or on a swarm of engines on this machine",
        description="The lab as a Docker Swarm stack (stack.yaml): a server service and N client tasks that run once.",
    )
    commands = swarm.add_subparsers(dest="swarm_command", required=True, metavar="SUBCOMMAND")
    add_command(
        commands,
        "up",
        "deploy the stack, wait for the N clients, print a row per client and the concurrency verdict",
        SwarmUpOptions,
        up,
        epilog=UP_EPILOG,
    )
    add_command(
        commands,
        "down",
        "remove the stack, the swarm `up --init` made, and `up --nodes` swarms",
        SwarmDownOptions,
        down,
    )
