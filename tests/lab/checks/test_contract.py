"""The contract, run against every server version (or each ``--server-image``): real containers, each a
host with its own address, on a network of their own. Any image counts that listens on 9736, speaks the
protocol and takes its delay from ``SOCKLAB_DELAY``.

``pytest -m contract --server-image IMAGE`` runs these alone against one image (no bench, swarm or
experiments); ``socklab check IMAGE`` holds an image to the same rules from the command line."""

from __future__ import annotations

import socket

import pytest

from socklab.checks.contract import (
    check_bad_clients_harm_nobody,
    check_concurrency,
    check_delay,
    check_every_byte,
    check_plus_one,
)
from socklab.lab.lab import Lab
from socklab.wire import parse_served

pytestmark = [pytest.mark.lab, pytest.mark.contract]


# The clients wait at a start barrier and connect at one signal, so the delay need not outlast the seconds
# dockerd takes to start 50 containers; it must outlast the SYN retransmissions (1 s, then 3 s) of the
# connections a listen backlog of 5 drops in a burst.
CONCURRENCY_DELAY = 4.0


def test_a_gets_b(server_image, client_image):
    with Lab(server_image=server_image, client_image=client_image, delay=0, purpose="test") as lab:
        check_plus_one(lab)


def test_every_byte_value_comes_back_plus_one(server_image, client_image):
    with Lab(server_image=server_image, client_image=client_image, delay=0, purpose="test") as lab:
        check_every_byte(lab)


def test_the_answer_comes_after_the_delay(server_image, client_image):
    with Lab(server_image=server_image, client_image=client_image, delay=1.5, purpose="test") as lab:
        check_delay(lab)


# The 50-client rows share one xdist worker (with the 50-client report): two crowds of containers at once on
# 2 cores would measure the machine, not the server.
@pytest.mark.parametrize("clients", [1, 3, 10, pytest.param(50, marks=pytest.mark.xdist_group("crowd"))])
def test_clients_at_once_are_all_answered_and_served_concurrently(
    server_image, client_image, is_socklab_server, clients
):
    # Reverse lookups off: Python 3.11.2's getnameinfo holds the GIL (cpython#104308), so 50 lookups in the
    # async model's executor can hold its timers past delay + 1 s on 2 cores; that is the runtime, not the model.
    no_names = {"SOCKLAB_RESOLVE_NAMES": "false"}
    lab_options = {"delay": CONCURRENCY_DELAY, "purpose": "test", "server_env": no_names}
    with Lab(server_image=server_image, client_image=client_image, **lab_options) as lab:
        check_concurrency(lab, clients)
        addresses = {
            run.result.address.rsplit(":", 1)[0] for run in lab.client_runs if run.result and run.result.address
        }
        assert len(addresses) == clients, "every client container is a host with its own address"
        if is_socklab_server:  # our servers log each peer they served; a foreign one may not
            served = {record.peer.address for line in lab.server_logs().splitlines() if (record := parse_served(line))}
            assert served == addresses, f"the server's log names other peers:\n{lab.server_logs()[-3000:]}"


def test_bad_clients_harm_nobody(server_image, client_image):
    with Lab(server_image=server_image, client_image=client_image, delay=1, purpose="test") as lab:
        check_bad_clients_harm_nobody(lab)


def test_docker_stop_lets_a_waiting_client_finish(server_image, client_image, is_socklab_python_server):
    if not is_socklab_python_server:
        pytest.skip("the SIGTERM drain is a promise of socklab's Python servers")
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
