"""Adding a command: its parser from an options dataclass, and a function that receives the options."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

from socklab.cli.options import options_from
from socklab.cli.recording import recorded
from socklab.events.options import RecordOptions
from socklab.wire.knobs import add_arguments

T = TypeVar("T")


def add_command(
    sub: Any,  # argparse's _SubParsersAction, a private type
    name: str,
    help_text: str,
    options: type[T],
    run: Callable[[T], int],
    *,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    """``socklab NAME``: flags from the fields of ``options``; ``run`` gets the built options."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser, options)
    if issubclass(options, RecordOptions):  # --events and --report: the run recorded, in one place
        run = recorded(parser.prog.removeprefix("socklab ").strip(), run)
    parser.set_defaults(func=lambda args: run(options_from(args, options)))
    return parser
