"""``socklab``: what compose cannot say by itself. A thin command line over the library functions."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from enum import IntEnum

import docker
import docker.errors

from .base import BASE_TAG, build_base
from .compose import ComposeUnavailable, ensure_compose
from .images import BuildFailed, build_images
from .lab import LabReport, run_lab
from .labels import PROJECT, remove_run
from .progress import to_stderr


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the lab ran and something did not hold: a client failed, or not served concurrently
    USAGE = 2
    NO_DOCKER = 3  # the Docker engine cannot be reached
    BUILD_FAILED = 4
    NO_COMPOSE = 5


def _docker() -> docker.DockerClient:
    return docker.from_env()


def cmd_base(args: argparse.Namespace) -> ExitCode:
    build_base(_docker(), tag=BASE_TAG, force=args.force, progress=to_stderr("base"))
    return ExitCode.OK


def cmd_images(args: argparse.Namespace) -> ExitCode:
    images = build_images(_docker(), base_image=args.base_image, progress=to_stderr("images"))
    print(images.server)
    print(images.client)
    return ExitCode.OK


def cmd_compose(_args: argparse.Namespace) -> ExitCode:
    print(" ".join(ensure_compose(to_stderr("compose"))))
    return ExitCode.OK


def cmd_demo(args: argparse.Namespace) -> ExitCode:
    from .demo import run_demo

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
        answer = r.get("received")
        print(
            f"{str(r.get('host', run.name))[:14]:<14} {r.get('address') or '-'!s:<21} "
            f"{(repr(answer) if answer is not None else '-'):<7} "
            f"{r.get('connect_seconds') or 0:>9.3f} {r.get('answer_seconds') or 0:>9.3f}  "
            f"{r.get('outcome', f'exit {run.exit_code}')}"
        )
    print(report.verdict.summary())


def cmd_run(args: argparse.Namespace) -> ExitCode:
    report = run_lab(
        clients=args.clients,
        server_image=args.server_image,
        client_image=args.client_image,
        delay=args.delay,
        progress=to_stderr("run"),
    )
    if args.json:
        print(
            json.dumps(
                {
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
            )
        )
    else:
        _print_report(report)
    ok = report.verdict.concurrent and all(run.exit_code == 0 for run in report.runs)
    return ExitCode.OK if ok else ExitCode.FAILED


def cmd_clean(_args: argparse.Namespace) -> ExitCode:
    """Remove what interrupted runs left (everything labelled by socklab, except the built images)."""
    client = _docker()
    runs = {c.labels.get("io.socklab.run") for c in client.containers.list(all=True, filters={"label": PROJECT})}
    runs |= {n.attrs.get("Labels", {}).get("io.socklab.run") for n in client.networks.list(filters={"label": PROJECT})}
    for run_id in sorted(r for r in runs if r):
        for item in remove_run(client, run_id):
            print(f"removed {item}")
    return ExitCode.OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="socklab",
        description="A multi-host socket lab on Docker: build its images, run the demo, run throwaway labs.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("base", help=f"build {BASE_TAG} from Debian packages (no registry needed)")
    p.add_argument("--force", action="store_true", help="rebuild even if the image exists")
    p.set_defaults(func=cmd_base)

    p = sub.add_parser("images", help="build socklab/server:latest and socklab/client:latest")
    p.add_argument(
        "--base-image",
        default=os.environ.get("BASE_IMAGE", BASE_TAG),
        help="image to build FROM, e.g. python:3.11-slim where a registry is reachable [env BASE_IMAGE]",
    )
    p.set_defaults(func=cmd_images)

    p = sub.add_parser("compose", help="make `docker compose` (v2) work, installing the plugin if needed")
    p.set_defaults(func=cmd_compose)

    p = sub.add_parser("demo", help="docker compose up --scale client=N until every client answered, then down")
    p.add_argument("--clients", type=int, default=3, help="how many client containers")
    p.add_argument(
        "--project",
        default=os.environ.get("COMPOSE_PROJECT_NAME", "socklab"),
        help="compose project name [env COMPOSE_PROJECT_NAME]",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("run", help="a throwaway lab: N clients at once, a row each, a concurrency verdict")
    p.add_argument("--clients", type=int, default=3, help="how many client containers at once")
    p.add_argument(
        "--server-image",
        default=os.environ.get("SERVER_IMAGE", "socklab/server:latest"),
        help="server image to test [env SERVER_IMAGE]",
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
    p.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("clean", help="remove containers and networks left by interrupted socklab runs")
    p.set_defaults(func=cmd_clean)
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
        return 130
