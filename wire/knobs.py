"""Configuration as one frozen dataclass, read from prefixed environment variables and the same CLI flags.

Both images run this (it is stdlib only), so the server and the client spell their knobs the same way:
the field ``idle_timeout`` is ``SOCKLAB_IDLE_TIMEOUT`` in the environment and ``--idle-timeout`` on the
command line; a flag beats the environment, which beats the field's default. The host writes the same
variables back: ``Knobs.to_env`` of a validated object, never a hand-made string.

A field's one validation rule (``option(..., rule=SECONDS)``) is checked whenever the object is made, on
either side; rules between fields stay in the class's ``check``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "NON_NEGATIVE",
    "POSITIVE",
    "SECONDS",
    "UNSET",
    "ConfigError",
    "Knobs",
    "Rule",
    "add_arguments",
    "check_fields",
    "converter",
    "env_name",
    "flag_name",
    "format_value",
    "load",
    "one_of",
    "option",
    "parser_for",
    "positive_seconds",
    "seconds",
    "variable_for",
    "whole",
]

PREFIX = "SOCKLAB_"
T = TypeVar("T", bound="DataclassInstance")
MAX_SECONDS = 86400.0  # a day: the C peers' bound too (agents/peers/*.c env_seconds)


class ConfigError(ValueError):
    """A configuration value is unusable; the message names the variable or flag and the value."""


@dataclasses.dataclass(frozen=True)
class Rule:
    """One field's validation: ``test(value)`` holds, or the value is rejected as not ``want``.

    ``say(name, value)`` words the rejection when "NAME VALUE must be WANT" would not read well.
    """

    want: str  # what a good value is, e.g. "a finite number of seconds in 0..86400"
    test: Callable[[Any], bool]
    say: Callable[[str, Any], str] | None = None

    def check(self, name: str, value: Any) -> None:
        if not self.test(value):
            raise ValueError(self.say(name, value) if self.say else f"{name} {value!r} must be {self.want}")


def seconds(low: float = 0.0, high: float = MAX_SECONDS) -> Rule:
    """A finite number of seconds in ``low..high``: NaN, infinities and negatives fail (``nan < 0`` is False)."""
    return Rule(f"a finite number of seconds in {low:g}..{high:g}", lambda v: math.isfinite(v) and low <= v <= high)


def positive_seconds(high: float = MAX_SECONDS) -> Rule:
    return Rule(f"a positive, finite number of seconds up to {high:g}", lambda v: math.isfinite(v) and 0 < v <= high)


def whole(low: int, high: int | None = None) -> Rule:
    """An integer in ``low..high`` (no upper bound when ``high`` is None)."""
    if high is None:
        return Rule(f"an integer of at least {low}", lambda v: low <= v)
    return Rule(f"{low}-{high}", lambda v: low <= v <= high, lambda name, v: f"{name} {v} is outside {low}-{high}")


def one_of(choices: Collection[str]) -> Rule:
    listed = ", ".join(choices)
    return Rule(
        f"one of {listed}", lambda v: v in choices, lambda name, v: f"unknown {name} {v!r}; choose one of {listed}"
    )


SECONDS = seconds()  # the delay, the idle timeout, the grace, the client's pauses
POSITIVE = positive_seconds()  # deadlines and timeouts: 0 would give up at once
NON_NEGATIVE = whole(0)


def option(
    default: Any,
    help: str,  # noqa: A002 - argparse's word
    *,
    metavar: str | None = None,
    env: str | None = None,
    positional: bool = False,
    flag: str | None = None,
    rule: Rule | None = None,
) -> Any:
    """A dataclass field that is also an environment variable and a flag with ``help``.

    ``env`` names a variable without the prefix (compose's ``SERVER_IMAGE``); ``positional`` makes the
    flag a positional argument (the host CLI's ``socklab swap FROM TO``); ``flag`` spells the flag when the
    field's name cannot (``socklab fault --for``: ``for`` is a keyword); ``rule`` is the field's one
    validation, checked by ``check_fields`` (every ``Knobs`` runs it when made).
    """
    metadata = {"help": help, "metavar": metavar, "env": env, "positional": positional, "flag": flag, "rule": rule}
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


UNSET: Any = object()  # "not on the command line": the caller resolves it (the host CLI: variable, then default)


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ", ".join(value) or "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return "none" if value in (None, "") else f"{value:g}" if isinstance(value, float) else str(value)


def add_arguments(
    parser: argparse.ArgumentParser,
    cls: type[Any],
    *,
    defaults: Mapping[str, Any] | None = None,
    prefix: str = PREFIX,
) -> argparse.ArgumentParser:
    """One argument per field of the dataclass ``cls`` (``positional`` ones, a repeated flag for a tuple).

    ``defaults`` (field name -> value, e.g. what the environment gave) become the flags' defaults; without
    them a flag not given is ``UNSET`` (a repeated one None), for the caller to resolve after parsing.
    """
    for field in dataclasses.fields(cls):
        meta = field.metadata
        value = field.default if defaults is None else defaults.get(field.name, field.default)
        default = UNSET if defaults is None else value
        help_text = f"{meta.get('help') or ''} [default {_shown(value)}; env {variable_for(field, prefix)}]"
        convert = converter(field)
        metavar = meta.get("metavar") or field.name.upper()
        flag = meta.get("flag") or flag_name(field.name)
        if meta.get("positional"):  # required, and only on the command line
            parser.add_argument(field.name, type=convert, metavar=metavar, help=meta.get("help", ""))
        elif convert is _parse_bool:
            parser.add_argument(
                flag, dest=field.name, action=argparse.BooleanOptionalAction, default=default, help=help_text
            )
        elif convert is _parse_words:  # repeated on the command line; comma-separated in the environment
            parser.add_argument(flag, dest=field.name, action="append", default=None, metavar=metavar, help=help_text)
        else:
            parser.add_argument(flag, dest=field.name, type=convert, default=default, metavar=metavar, help=help_text)
    return parser


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
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog)
    return add_arguments(parser, cls, defaults=_from_environment(cls, environ, prefix), prefix=prefix)


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
    environ = os.environ if environ is None else environ
    parser = parser_for(cls, prog=prog, description=description, environ=environ, prefix=prefix)
    values = vars(parser.parse_args(argv))
    from_env = _from_environment(cls, environ, prefix)
    for field in dataclasses.fields(cls):
        if converter(field) is _parse_words:  # a repeated flag: given, else the environment or the default
            given = values[field.name]
            values[field.name] = tuple(given) if given is not None else from_env.get(field.name, field.default)
    try:
        return cls(**values)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def check_fields(instance: DataclassInstance) -> None:
    """Each field's own rule, in field order; ValueError names the first field that breaks its rule."""
    for field in dataclasses.fields(instance):
        rule = field.metadata.get("rule")
        if rule is not None:
            rule.check(field.name, getattr(instance, field.name))


def format_value(value: object) -> str:
    """A value as its variable spells it, read back to the same value by ``converter``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    if isinstance(value, tuple):
        return ",".join(str(part) for part in value)
    return str(value)


class Knobs:
    """The base of a program's knobs (a frozen dataclass): read from the environment, written back to it.

    ``to_env`` writes the fields the object was made with (by keyword or position, or read by
    ``from_env``), not the defaults it left alone: an image keeps its own defaults (a model image's
    ``SOCKLAB_MODEL``) unless the host names them. Each field's ``rule`` runs when the object is made,
    then ``check`` for the rules between fields. ``dataclasses.replace`` names every field.
    """

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]  # each subclass is a dataclass
    _given: frozenset[str]

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        made = super().__new__(cls)
        names = [field.name for field in dataclasses.fields(cls)]
        object.__setattr__(made, "_given", frozenset(names[: len(args)]) | frozenset(kwargs))
        return made

    def __post_init__(self) -> None:
        check_fields(self)
        self.check()

    def check(self) -> None:
        """Rules between fields (e.g. workers > 1 needs model epoll); ValueError names them."""

    @classmethod
    def variable(cls, name: str) -> str:
        """The environment variable of the field ``name``."""
        found = {field.name: field for field in dataclasses.fields(cls)}
        if name not in found:
            raise KeyError(f"{cls.__name__} has no field {name!r}")
        return variable_for(found[name])

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The knobs from ``environ`` (default ``os.environ``) over the defaults; ConfigError when unusable."""
        values = _from_environment(cls, os.environ if environ is None else environ, PREFIX)
        try:
            return cls(**values)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc

    def to_env(self) -> dict[str, str]:
        """The variables that give a container these knobs: the fields this object was made with."""
        return {
            variable_for(field): format_value(getattr(self, field.name))
            for field in dataclasses.fields(self)
            if field.name in self._given
        }
