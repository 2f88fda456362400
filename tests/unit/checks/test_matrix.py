from __future__ import annotations

import pytest

from conftest import VERSIONS
from socklab.checks.matrix import Cell, Matrix, run_matrix


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


@pytest.mark.lab
def test_every_client_speaks_with_every_server(lab_images):
    servers = [lab_images.servers[version] for version in VERSIONS]
    clients = list(lab_images.clients.values())
    matrix = run_matrix(servers=servers, clients=clients, per_pair=2, delay=0.2)
    assert matrix.ok, matrix.grid()
    assert len(matrix.cells) == len(servers) * len(clients) == 8


@pytest.mark.lab
def test_a_server_that_echoes_fails_its_row(lab_images, broken_images):
    clients = list(lab_images.clients.values())
    matrix = run_matrix(servers=[broken_images["echo"]], clients=clients, per_pair=1, delay=0)
    assert [cell.ok for cell in matrix.cells] == [False, False]
    assert [cell.answers for cell in matrix.cells] == [["A"], ["A"]]
