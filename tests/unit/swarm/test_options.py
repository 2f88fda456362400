"""`socklab swarm up` options: one clear error for combinations that cannot work. No engine."""

from __future__ import annotations

import pytest

from socklab.cli.main import main
from socklab.swarm.run import SwarmUpOptions


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"clients": 0}, "--clients"),
        ({"nodes": -1}, "--nodes"),
        ({"nodes": 3, "init": True}, "--init is for this engine"),
        ({"delay": -1.0}, "--delay"),
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
