"""The matrix grid as a user reads it."""

from __future__ import annotations

from socklab.checks.matrix import Cell, Matrix


def test_the_grid_puts_servers_down_and_clients_across():
    matrix = Matrix(
        ["s:fork", "s:c-fork"],
        ["c:py", "c:c"],
        [
            Cell("s:fork", "c:py", True, ["B"], ""),
            Cell("s:fork", "c:c", True, ["B"], ""),
            Cell("s:c-fork", "c:py", True, ["B"], ""),
            Cell("s:c-fork", "c:c", False, ["A"], "client-4 exited 6: wrong answer"),
        ],
    )
    lines = matrix.grid().splitlines()
    assert lines[0].split() == ["server", "\\", "client", "c:py", "c:c"]
    assert lines[1].split() == ["s:fork", "ok", "'B'", "ok", "'B'"]
    assert lines[2].split() == ["s:c-fork", "ok", "'B'", "FAIL"]
    assert lines[3:] == ["failures:", "  s:c-fork x c:c: client-4 exited 6: wrong answer"]
    assert not matrix.ok and matrix.as_json()["ok"] is False
