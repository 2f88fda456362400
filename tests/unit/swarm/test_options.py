"""`socklab swarm up` options: one clear error for combinations that cannot work. No engine."""

from __future__ import annotations

import argparse

import pytest

from socklab.cli.main import main
from socklab.cli.options import options_from
from socklab.swarm.run import SwarmUpOptions
from socklab.wire.knobs import ConfigError, add_arguments


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"clients": 0}, "--clients"),
        ({"nodes": -1}, "--nodes"),
        ({"nodes": 3, "init": True}, "--init is for this engine"),
        ({"delay": -1.0}, "delay -1.0 must be a finite number"),
        ({"delay": float("nan")}, "delay nan must be a finite number"),  # `delay < 0` let NaN through
        ({"nodes": 3, "client_constraint": ("node.role==worker",)}, "places the server on node1"),
    ],
)
def test_bad_combinations_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SwarmUpOptions(**kwargs)


def test_the_cli_says_so_in_one_line_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["swarm", "up", "--nodes", "3", "--init"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--init is for this engine" in err[0]


def test_a_nan_delay_from_the_environment_is_refused_before_anything_runs() -> None:
    args = add_arguments(argparse.ArgumentParser(), SwarmUpOptions).parse_args([])
    with pytest.raises(ConfigError, match="delay nan must be a finite number"):
        options_from(args, SwarmUpOptions, environ={"SOCKLAB_DELAY": "nan"})
