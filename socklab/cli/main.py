"""``socklab``: a thin command line over the library; each capability registers its own commands.

Every command module in ``COMMANDS`` has ``register(sub)``, which adds its parsers and sets ``func``.
Options come from frozen dataclasses (``socklab.cli.options``); errors are explained in one place
(``socklab.errors``) and mapped to named exit codes here.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

import docker.errors
import requests

from socklab.cli.exit_codes import ExitCode
from socklab.errors import EngineUnreachable, MissingImage, explain
from socklab.images.build import BuildFailed
from socklab.lab.compose import ComposeUnavailable
from socklab.wire.knobs import ConfigError

__all__ = ["COMMANDS", "ExitCode", "build_parser", "command_names", "main"]

# One line per capability: the modules whose register(sub) adds commands, in the order of `socklab --help`.
COMMANDS = (
    "socklab.cli.setup",  # base, images, compose, demo, clean
    "socklab.cli.lab",  # run, matrix, swap
    "socklab.cli.check",  # check IMAGE
    "socklab.cli.experiment",  # experiment list | NAME
    "socklab.cli.trace",  # trace
    "socklab.cli.swarm",  # swarm up, swarm down
    "socklab.cli.bench",  # bench
    "socklab.cli.fault",  # fault KIND, faults
    "socklab.cli.scenario",  # scenario run | check | schema
    "socklab.cli.report",  # report EVENTS.jsonl -o FILE.html
    "socklab.cli.view",  # view EVENTS.jsonl
)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions keep their line breaks (examples), help lines wrap."""


def command_names() -> list[str]:
    """Every ``socklab`` command, in the order of ``socklab --help``."""
    names: list[str] = []
    build_parser(on_command=names.append)
    return names


def build_parser(on_command: Callable[[str], object] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="socklab",
        description="A multi-host socket lab on Docker: build its images, run the demo, run throwaway labs, "
        "break them on purpose and measure them.",
        formatter_class=HelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        importlib.import_module(module).register(sub)
    if on_command is not None:
        for name in sub.choices:
            on_command(name)
    return parser


def _exit_code_for(exc: BaseException) -> ExitCode:
    if isinstance(exc, MissingImage | docker.errors.ImageNotFound):
        return ExitCode.MISSING_IMAGE
    if isinstance(exc, BuildFailed | docker.errors.BuildError):
        return ExitCode.BUILD_FAILED
    if isinstance(exc, ComposeUnavailable):
        return ExitCode.NO_COMPOSE
    return ExitCode.NO_DOCKER


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse itself exits 2 with one usage line for a malformed flag
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"socklab {args.command}: bad configuration: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except (
        EngineUnreachable,
        MissingImage,
        BuildFailed,
        ComposeUnavailable,
        docker.errors.DockerException,
        requests.exceptions.ConnectionError,
    ) as exc:
        print(f"socklab {args.command}: {explain(exc)}", file=sys.stderr)
        return _exit_code_for(exc)
    except KeyboardInterrupt:
        print(f"socklab {args.command}: interrupted; what this run made has been removed", file=sys.stderr)
        return ExitCode.INTERRUPTED
