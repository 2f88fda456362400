"""Lab tests: real containers, each a host with its own address, on a network of their own.

They run against the server image built from the tree, or against each ``--server-image``: any image
that listens on 9736, speaks the protocol and takes its delay from ``SOCKLAB_DELAY``.
"""

from __future__ import annotations

import socket

import pytest

from server.log import parse_served
from socklab.analysis import judge
from socklab.lab import ClientRun, Lab

pytestmark = pytest.mark.lab


def delay_for(clients: int) -> float:
    # Starting containers is the slow part here (about 4 per second on 2 cores): the delay must outlast
    # the spread of client start-ups, or even a perfect server could not have them all waiting at once.
    return max(4.0, 0.4 * clients)


def failure_report(runs: list[ClientRun], lab: Lab) -> str:
    failed = [run.describe() for run in runs if run.exit_code != 0]
    return "\n".join(["failed clients:", *failed, "server log:", lab.server_logs()[-4000:]])


@pytest.mark.parametrize("clients", [1, 3, 10, 50])
def test_every_client_gets_b_and_is_served_concurrently(server_image, client_image, is_socklab_python_server, clients):
    delay = delay_for(clients)
    with Lab(server_image=server_image, client_image=client_image, delay=delay, purpose="test") as lab:
        runs = lab.run_clients(clients)
        report = failure_report(runs, lab)

        assert [run.exit_code for run in runs] == [0] * clients, report
        assert [run.received for run in runs] == ["B"] * clients, report

        client_addresses = {run.result["address"].rsplit(":", 1)[0] for run in runs}
        assert len(client_addresses) == clients, "every client container is a host with its own address"
        if is_socklab_python_server:
            served = [record for line in lab.server_logs().splitlines() if (record := parse_served(line))]
            assert {record.peer.address for record in served} == client_addresses, report
            assert all(record.reply == 0x42 for record in served)

        verdict = judge([run.interval for run in runs], clients=clients, delay=delay)
        assert verdict.concurrent, f"{verdict.summary()}\n{report}"


def test_every_byte_value_crosses_the_network_and_comes_back_plus_one(server_image, client_image):
    # From the host to the server container's address: 256 connections, one per byte value.
    with Lab(server_image=server_image, client_image=client_image, delay=0, purpose="test") as lab:
        address = lab.server_address()
        answers = {}
        for value in range(256):
            with socket.create_connection((address, lab.port), timeout=10) as sock:
                sock.sendall(bytes([value]))
                answers[value] = sock.recv(1)
        wrong = {f"0x{v:02x}": a.hex() for v, a in answers.items() if a != bytes([(v + 1) % 256])}
        assert not wrong, f"wrong answers: {wrong}\n{lab.server_logs()[-3000:]}"


def test_docker_stop_lets_a_waiting_client_finish(server_image, client_image, is_socklab_python_server):
    if not is_socklab_python_server:
        pytest.skip("the SIGTERM drain is a promise of socklab's Python servers only")
    with Lab(server_image=server_image, client_image=client_image, delay=3, purpose="test") as lab:
        with socket.create_connection((lab.server_address(), lab.port), timeout=15) as sock:
            sock.sendall(b"A")
            lab.wait_for_server_log(r"accepted ")
            exit_code = lab.stop_server(timeout=15)
            answer = sock.recv(1)
        log = lab.server_logs()
    assert answer == b"B", log
    assert exit_code == 0, log
    assert "stopped: every accepted connection was answered" in log
