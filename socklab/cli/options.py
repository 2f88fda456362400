"""A command's options as one frozen dataclass: the same fields give the flags, the help and the variables.

The flags come from ``wire.knobs.add_arguments`` (the one parser builder, which the images' own ``load``
uses too); this module resolves what was not given on the command line.

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

from socklab.wire.knobs import UNSET, ConfigError, converter, variable_for

T = TypeVar("T")


def options_from(args: argparse.Namespace, cls: type[T], *, environ: Mapping[str, str] | None = None) -> T:
    """Build ``cls`` from parsed flags over the environment over the defaults.

    Raises ConfigError naming the variable or the field for an unusable value.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        given = getattr(args, field.name, UNSET)
        if given is not UNSET and given is not None:  # None: a repeatable flag never given
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
