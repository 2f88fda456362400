"""``socklab``: what compose cannot say by itself. A thin command line over the library functions."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from enum import IntEnum

import docker
import docker.errors

from socklab.cli import fault
from socklab.images.build import BuildFailed, build_images
from socklab.images.rootfs import BASE_TAG, build_base
from socklab.lab.compose import ComposeUnavailable, ensure_compose
from socklab.lab.lab import LabReport, run_lab
from socklab.lab.labels import PROJECT, RUN, remove_run
from socklab.progress import to_stderr


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the lab ran and something did not hold: a client failed, not concurrent, a request lost
    USAGE = 2
    NO_DOCKER = 3  # the Docker engine cannot be reached
    BUILD_FAILED = 4
    NO_COMPOSE = 5
    INTERRUPTED = 130


def cmd_base(args: argparse.Namespace) -> ExitCode:
    build_base(docker.from_env(), tag=BASE_TAG, force=args.force, progress=to_stderr("base"))
    return ExitCode.OK


def cmd_images(args: argparse.Namespace) -> ExitCode:
    images = build_images(docker.from_env(), base_image=args.base_image, with_c=args.c, progress=to_stderr("images"))
    for tag in [*images.servers.values(), *images.clients.values()]:
        print(tag)
    return ExitCode.OK


def cmd_compose(_args: argparse.Namespace) -> ExitCode:
    print(" ".join(ensure_compose(to_stderr("compose"))))
    return ExitCode.OK


def cmd_demo(args: argparse.Namespace) -> ExitCode:
    from socklab.lab.demo import run_demo

    result = run_demo(clients=args.clients, project=args.project, progress=to_stderr("demo"))
    print()
    for answer in result.answers:
        print(f"{answer.container}: {answer.line}  (exit {answer.exit_code})")
    good = sum(a.exit_code == 0 for a in result.answers)
    print(f"{good}/{args.clients} clients answered correctly, {result.seconds:.1f} s from `up` to the last answer")
    return ExitCode.OK if result.ok and len(result.answers) == args.clients else ExitCode.FAILED


def _print_report(report: LabReport) -> None:
    print(f"server {report.server_image}, client {report.client_image}, delay {report.delay:g} s")
    print(f"{'client host':<14} {'address':<21} {'answer':<7} {'connect s':>9} {'answer s':>9}  outcome")
    for run in report.runs:
        r = run.result or {}
        answer = run.received
        print(
            f"{str(r.get('host', run.name))[:14]:<14} {r.get('address') or '-'!s:<21} "
            f"{(repr(answer) if answer is not None else '-'):<7} "
            f"{r.get('connect_seconds') or 0:>9.3f} {r.get('answer_seconds') or 0:>9.3f}  "
            f"{r.get('outcome', f'exit {run.exit_code}')}"
        )
    print(report.verdict.summary())


def _report_json(report: LabReport) -> dict:
    return {
        "server_image": report.server_image,
        "client_image": report.client_image,
        "delay": report.delay,
        "clients": [run.result or {"name": run.name, "exit_code": run.exit_code} for run in report.runs],
        "verdict": {
            "concurrent": report.verdict.concurrent,
            "overlap": report.verdict.overlap,
            "slowest": report.verdict.slowest,
            "span": report.verdict.span,
            "reasons": list(report.verdict.reasons),
        },
    }


def cmd_run(args: argparse.Namespace) -> ExitCode:
    servers = args.server_image or [os.environ.get("SERVER_IMAGE", "socklab/server:latest")]
    reports = []
    for server in servers:
        report = run_lab(
            clients=args.clients,
            server_image=server,
            client_image=args.client_image,
            delay=args.delay,
            progress=to_stderr("run"),
        )
        reports.append(report)
        if not args.json:
            _print_report(report)
            print()
    if args.json:
        print(json.dumps([_report_json(r) for r in reports] if len(reports) > 1 else _report_json(reports[0])))
    if args.timeline:
        from socklab.analysis.timeline import Lane, draw_timeline

        lanes = [
            Lane(r.server_image, [run.interval for run in r.runs if run.interval], r.delay, len(r.runs))
            for r in reports
        ]
        print(f"timeline: {draw_timeline(lanes, args.timeline)}", file=sys.stderr)
    ok = all(r.verdict.concurrent and all(run.exit_code == 0 for run in r.runs) for r in reports)
    return ExitCode.OK if ok else ExitCode.FAILED


def cmd_matrix(args: argparse.Namespace) -> ExitCode:
    from socklab.checks.matrix import DEFAULT_CLIENTS, DEFAULT_SERVERS, run_matrix

    matrix = run_matrix(
        servers=args.server_image or list(DEFAULT_SERVERS),
        clients=args.client_image or list(DEFAULT_CLIENTS),
        per_pair=args.clients,
        delay=args.delay,
        progress=to_stderr("matrix"),
    )
    print(json.dumps(matrix.as_json()) if args.json else matrix.grid())
    return ExitCode.OK if matrix.ok else ExitCode.FAILED


def cmd_swap(args: argparse.Namespace) -> ExitCode:
    from socklab.checks.swap import swap_under_load

    report = swap_under_load(
        from_image=args.from_image,
        to_image=args.to_image,
        client_image=args.client_image,
        clients=args.clients,
        exchanges=args.exchanges,
        delay=args.delay,
        progress=to_stderr("swap"),
    )
    if args.json:
        print(json.dumps({**asdict(report), "lost": report.lost, "swap_seconds": report.swap_seconds}))
    else:
        print(report.summary())
    return ExitCode.OK if report.lost == 0 else ExitCode.FAILED


def cmd_clean(_args: argparse.Namespace) -> ExitCode:
    """Remove what interrupted runs left (everything labelled by socklab, except the built images)."""
    client = docker.from_env()
    from socklab.faults.cleanup import clean_faults  # first: a fault sidecar must undo before it is removed

    for item in clean_faults(client, progress=to_stderr("clean")):
        print(item)
    runs = {
        c.labels.get(RUN) for c in client.containers.list(all=True, filters={"label": PROJECT}, ignore_removed=True)
    }
    runs |= {(n.attrs.get("Labels") or {}).get(RUN) for n in client.networks.list(filters={"label": PROJECT})}
    for run_id in sorted(r for r in runs if r):
        for item in remove_run(client, run_id, images=False):
            print(f"removed {item}")
    return ExitCode.OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="socklab",
        description="A multi-host socket lab on Docker: build its images, run the demo, run throwaway labs.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text, formatter_class=parser.formatter_class)

    p = command("base", f"build {BASE_TAG} from Debian packages (no registry needed)")
    p.add_argument("--force", action="store_true", help="rebuild even if the image exists")
    p.set_defaults(func=cmd_base)

    p = command("images", "build every server version (fork = latest, thread, async, c-fork) and both clients")
    p.add_argument(
        "--base-image",
        default=os.environ.get("BASE_IMAGE", BASE_TAG),
        help="image to build FROM, e.g. python:3.11-slim where a registry is reachable [env BASE_IMAGE]",
    )
    p.add_argument("--c", action=argparse.BooleanOptionalAction, default=True, help="also the C witnesses")
    p.set_defaults(func=cmd_images)

    p = command("compose", "make `docker compose` (v2) work, installing the plugin if needed")
    p.set_defaults(func=cmd_compose)

    p = command("demo", "docker compose up --scale client=N until every client answered, then down")
    p.add_argument("--clients", type=int, default=3, help="how many client containers")
    p.add_argument(
        "--project",
        default=os.environ.get("COMPOSE_PROJECT_NAME", "socklab"),
        help="compose project name [env COMPOSE_PROJECT_NAME]",
    )
    p.set_defaults(func=cmd_demo)

    p = command("run", "a throwaway lab: N clients at once, a row each, a concurrency verdict")
    p.add_argument("--clients", type=int, default=3, help="how many client containers at once")
    p.add_argument(
        "--server-image",
        action="append",
        default=[],
        help="server image to run; repeat to compare versions (default: $SERVER_IMAGE or socklab/server:latest)",
    )
    p.add_argument(
        "--client-image",
        default=os.environ.get("CLIENT_IMAGE", "socklab/client:latest"),
        help="client image [env CLIENT_IMAGE]",
    )
    p.add_argument(
        "--delay",
        type=float,
        default=float(os.environ.get("SOCKLAB_DELAY", "5")),
        help="seconds the server waits before answering [env SOCKLAB_DELAY]",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--timeline", metavar="FILE", help="draw one bar per client, connect to answer (.png/.svg/.pdf)")
    p.set_defaults(func=cmd_run)

    p = command("matrix", "every client image against every server image: a grid of answers")
    p.add_argument("--server-image", action="append", default=[], help="a server image (repeatable; default: all)")
    p.add_argument("--client-image", action="append", default=[], help="a client image (repeatable; default: all)")
    p.add_argument("--clients", type=int, default=2, help="clients of each image per server")
    p.add_argument("--delay", type=float, default=0.5, help="the servers' delay in seconds")
    p.add_argument("--json", action="store_true", help="print JSON instead of the grid")
    p.set_defaults(func=cmd_matrix)

    p = command("swap", "replace the server version under load; count what was lost")
    p.add_argument("from_image", metavar="FROM", help="the server image running first")
    p.add_argument("to_image", metavar="TO", help="the server image that replaces it")
    p.add_argument(
        "--client-image",
        default=os.environ.get("CLIENT_IMAGE", "socklab/client:latest"),
        help="client image [env CLIENT_IMAGE]",
    )
    p.add_argument("--clients", type=int, default=4, help="client containers making exchanges meanwhile")
    p.add_argument("--exchanges", type=int, default=15, help="exchanges each client makes, one after another")
    p.add_argument("--delay", type=float, default=0.5, help="the servers' delay in seconds")
    p.add_argument("--json", action="store_true", help="print JSON instead of the summary")
    p.set_defaults(func=cmd_swap)

    p = command("clean", "remove containers and networks left by interrupted socklab runs")
    p.set_defaults(func=cmd_clean)
    fault.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "clients", 1) < 1:
        print("socklab: --clients must be at least 1", file=sys.stderr)
        return ExitCode.USAGE
    try:
        return args.func(args)
    except docker.errors.DockerException as exc:
        print(f"socklab: cannot use the Docker engine: {exc}", file=sys.stderr)
        return ExitCode.NO_DOCKER
    except BuildFailed as exc:
        print(f"socklab: {exc}", file=sys.stderr)
        return ExitCode.BUILD_FAILED
    except ComposeUnavailable as exc:
        print(f"socklab: {exc}", file=sys.stderr)
        return ExitCode.NO_COMPOSE
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
