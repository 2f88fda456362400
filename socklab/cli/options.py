"""A command's options as one frozen dataclass: the same fields give the flags, the help and the variables.

Each field made with ``wire.knobs.option`` becomes a flag (``--server-image``), reads a variable
(``SOCKLAB_SERVER_IMAGE``, or the field's own ``env`` name such as compose's ``SERVER_IMAGE``) and has one
default and one help text. Values resolve as flag over variable over default. The environment is read
only for the command that runs, so a bad ``SOCKLAB_DELAY`` cannot break ``socklab images``; a bad value
anywhere becomes one ``ConfigError`` line (exit 2), never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping
from typing import Any, TypeVar

from wire.knobs import ConfigError, converter, flag_name, variable_for

T = TypeVar("T")

_UNSET: Any = object()  # "not on the command line": the variable or the default decides


def _shown_default(field: dataclasses.Field[Any]) -> str:
    default = field.default
    if isinstance(default, tuple):
        return ", ".join(default) or "none"
    if isinstance(default, bool):
        return "on" if default else "off"
    return "none" if default in (None, "") else f"{default:g}" if isinstance(default, float) else str(default)


def add_options(parser: argparse.ArgumentParser, cls: type[Any]) -> argparse.ArgumentParser:
    """Add one argument per field of the dataclass ``cls``; return the parser."""
    for field in dataclasses.fields(cls):
        meta = field.metadata
        help_text = f"{meta.get('help', '')} [default {_shown_default(field)}; env {variable_for(field)}]"
        convert = converter(field)
        metavar = meta.get("metavar") or field.name.upper()
        flag = meta.get("flag") or flag_name(field.name)
        if meta.get("positional"):  # required, and only on the command line
            parser.add_argument(field.name, type=convert, metavar=metavar, help=meta.get("help", ""))
        elif field.type == "bool" or field.type is bool:
            parser.add_argument(
                flag,
                dest=field.name,
                action=argparse.BooleanOptionalAction,
                default=_UNSET,
                help=help_text,
            )
        elif isinstance(field.default, tuple):
            # Repeated on the command line; comma-separated in the environment.
            parser.add_argument(
                flag,
                dest=field.name,
                action="append",
                default=None,
                metavar=metavar,
                help=help_text,
            )
        else:
            parser.add_argument(
                flag,
                dest=field.name,
                type=convert,
                default=_UNSET,
                metavar=metavar,
                help=help_text,
            )
    return parser


def options_from(args: argparse.Namespace, cls: type[T], *, environ: Mapping[str, str] | None = None) -> T:
    """Build ``cls`` from parsed flags over the environment over the defaults.

    Raises ConfigError naming the variable or the field for an unusable value.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        given = getattr(args, field.name, _UNSET)
        if given is not _UNSET and given is not None:  # None: a repeatable flag never given
            values[field.name] = tuple(given) if isinstance(field.default, tuple) else given
            continue
        variable = variable_for(field)
        if variable in environ and not field.metadata.get("positional"):
            try:
                values[field.name] = converter(field)(environ[variable])
            except ValueError as exc:
                raise ConfigError(f"{variable}={environ[variable]!r}: {exc}") from exc
    try:
        return cls(**values)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
