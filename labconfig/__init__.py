"""Configuration as one frozen dataclass, read from prefixed environment variables and the same CLI flags.

Both images run this (it is stdlib only), so the server and the client spell their knobs the same way:
the field ``idle_timeout`` is ``SOCKLAB_IDLE_TIMEOUT`` in the environment and ``--idle-timeout`` on the
command line; a flag beats the environment, which beats the field's default.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["ConfigError", "converter", "env_name", "flag_name", "load", "option", "parser_for", "variable_for"]

PREFIX = "SOCKLAB_"
T = TypeVar("T", bound="DataclassInstance")


class ConfigError(ValueError):
    """A configuration value is unusable; the message names the variable or flag and the value."""


def option(
    default: Any,
    help: str,  # noqa: A002 - argparse's word
    *,
    metavar: str | None = None,
    env: str | None = None,
    positional: bool = False,
    flag: str | None = None,
) -> Any:
    """A dataclass field that is also an environment variable and a flag with ``help``.

    ``env`` names a variable without the prefix (compose's ``SERVER_IMAGE``); ``positional`` makes the
    flag a positional argument (the host CLI's ``socklab swap FROM TO``); ``flag`` spells the flag when the
    field's name cannot (``socklab fault --for``: ``for`` is a keyword).
    """
    metadata = {"help": help, "metavar": metavar, "env": env, "positional": positional, "flag": flag}
    return dataclasses.field(default=default, metadata=metadata)


def env_name(field_name: str, prefix: str = PREFIX) -> str:
    return prefix + field_name.upper()


def variable_for(field: dataclasses.Field[Any], prefix: str = PREFIX) -> str:
    """The environment variable of a field: its own ``env`` name, or the prefixed field name."""
    return field.metadata.get("env") or env_name(field.name, prefix)


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {text!r} (use true/false, 1/0, yes/no, on/off)")


def _parse_words(text: str) -> tuple[str, ...]:
    return tuple(word for word in (part.strip() for part in text.split(",")) if word)


def converter(field: dataclasses.Field[Any]) -> Callable[[str], Any]:
    """The function that turns one text value of ``field`` into its type.

    Annotations are strings under ``from __future__ import annotations``; knobs use four plain types and
    ``tuple[str, ...]`` (comma-separated in the environment, a repeated flag on the command line).
    """
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
    if str(kind).replace(" ", "") == "tuple[str,...]":
        return _parse_words
    converters: dict[str, Callable[[str], Any]] = {"bool": _parse_bool, "int": int, "float": float, "str": str}
    return converters[str(kind)]


def _from_environment(cls: type[T], environ: Mapping[str, str], prefix: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        name = variable_for(field, prefix)
        if name in environ:
            try:
                values[field.name] = converter(field)(environ[name])
            except ValueError as exc:
                raise ConfigError(f"{name}={environ[name]!r}: {exc}") from exc
    return values


def parser_for(
    cls: type[T],
    *,
    prog: str,
    description: str,
    environ: Mapping[str, str] | None = None,
    prefix: str = PREFIX,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    """An argument parser with one flag per field; its defaults already include the environment."""
    environ = os.environ if environ is None else environ
    from_env = _from_environment(cls, environ, prefix)
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=epilog,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for field in dataclasses.fields(cls):
        default = from_env.get(field.name, field.default)
        help_text = f"{field.metadata.get('help', '')} [env {variable_for(field, prefix)}]"
        convert = converter(field)
        if convert is _parse_bool:
            parser.add_argument(
                flag_name(field.name),
                dest=field.name,
                action=argparse.BooleanOptionalAction,
                default=default,
                help=help_text,
            )
        else:
            parser.add_argument(
                flag_name(field.name),
                dest=field.name,
                type=convert,
                default=default,
                metavar=field.metadata.get("metavar") or field.name.upper(),
                help=help_text,
            )
    return parser


def load(
    cls: type[T],
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    prog: str = "socklab",
    description: str = "",
    prefix: str = PREFIX,
) -> T:
    """Build ``cls`` from flags over environment over defaults.

    Raises ConfigError for a bad environment value or a value the dataclass rejects in
    ``__post_init__``; argparse itself exits with status 2 for a malformed flag, as CLIs do.
    """
    parser = parser_for(cls, prog=prog, description=description, environ=environ, prefix=prefix)
    namespace = parser.parse_args(argv)
    try:
        return cls(**vars(namespace))
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
