"""Every client image against every server image, on the wire."""

from __future__ import annotations

import pytest

from conftest import VERSIONS
from socklab.checks.matrix import run_matrix

pytestmark = pytest.mark.lab


def test_every_client_speaks_with_every_server(lab_images):
    servers = [lab_images.servers[version] for version in VERSIONS]
    clients = list(lab_images.clients.values())
    matrix = run_matrix(servers=servers, clients=clients, per_pair=2, delay=0.2)
    assert matrix.ok, matrix.grid()
    assert len(matrix.cells) == len(servers) * len(clients)


def test_a_server_that_echoes_fails_its_row(lab_images, broken_images):
    clients = list(lab_images.clients.values())
    matrix = run_matrix(servers=[broken_images["echo"]], clients=clients, per_pair=1, delay=0)
    assert [cell.ok for cell in matrix.cells] == [False, False]
    assert [cell.answers for cell in matrix.cells] == [["A"], ["A"]]
