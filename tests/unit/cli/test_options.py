"""Options as one dataclass: flag over variable over default, repeatable flags, positional arguments."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from socklab.cli.options import options_from
from socklab.wire.knobs import ConfigError, add_arguments, option


@dataclass(frozen=True)
class Knobs:
    target: str = option("", "what to act on", positional=True)
    delay: float = option(5.0, "seconds")
    image: tuple[str, ...] = option((), "an image (repeatable)", env="IMAGES")
    json: bool = option(False, "print JSON")

    def __post_init__(self) -> None:
        if self.delay < 0:
            raise ValueError(f"delay {self.delay} is negative")


def _parse(argv: list[str], environ: dict[str, str]) -> Knobs:
    parser = add_arguments(argparse.ArgumentParser(), Knobs)
    return options_from(parser.parse_args(argv), Knobs, environ=environ)


def test_defaults_then_environment_then_flags():
    assert _parse(["x"], {}) == Knobs("x")
    assert _parse(["x"], {"SOCKLAB_DELAY": "1.5", "SOCKLAB_JSON": "yes"}) == Knobs("x", 1.5, (), True)
    assert _parse(["x", "--delay", "2", "--no-json"], {"SOCKLAB_DELAY": "1.5", "SOCKLAB_JSON": "yes"}) == Knobs("x", 2)


def test_a_repeatable_flag_and_its_comma_separated_variable():
    assert _parse(["x", "--image", "a", "--image", "b"], {}).image == ("a", "b")
    assert _parse(["x"], {"IMAGES": "a, b,"}).image == ("a", "b")


def test_a_positional_argument_is_never_read_from_the_environment():
    assert _parse(["given"], {"SOCKLAB_TARGET": "ignored"}).target == "given"


def test_validation_and_bad_variables_become_config_errors():
    with pytest.raises(ConfigError, match=r"delay -1\.0 is negative"):
        _parse(["x", "--delay", "-1"], {})
    with pytest.raises(ConfigError, match="SOCKLAB_DELAY='later'"):
        _parse(["x"], {"SOCKLAB_DELAY": "later"})
