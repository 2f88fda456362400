"""Out of file descriptors: every model pauses accepting, serves what it has, and answers everyone after."""

from __future__ import annotations

import resource
import socket
import threading

import pytest

from support import ServerProcess

DESCRIPTORS = 32  # the server's RLIMIT_NOFILE: about 24 connections beside what Python itself holds
CLIENTS = 80
# The concurrent models hold one descriptor per connection in flight, so they run out; fork's parent holds
# one at a time and serial serves one at a time: they must simply keep working under the same limit.
RUNS_OUT = {"thread", "async"}


def few_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (DESCRIPTORS, DESCRIPTORS))


def ask(port: int, answers: list[bytes], i: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"A")
        answers[i] = sock.recv(1)


@pytest.mark.parametrize(("model", "delay"), [("fork", "0.3"), ("thread", "0.3"), ("async", "0.3"), ("serial", "0")])
def test_more_clients_than_descriptors_are_all_answered_with_a_bounded_log(model, delay):
    answers = [b""] * CLIENTS
    with ServerProcess(
        "--model", model, "--delay", delay, "--backlog", "256", "--no-log-probes", preexec_fn=few_descriptors
    ) as server:
        # Each client connects and sends at once; the kernel queues what the server cannot accept yet.
        clients = [threading.Thread(target=ask, args=(server.port, answers, i)) for i in range(CLIENTS)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(60)
        assert server.terminate() == 0
    assert answers == [b"B"] * CLIENTS
    log = server.log()
    accept_errors = [line for line in log.splitlines() if "accept failed" in line]
    assert len(accept_errors) <= 10, f"{len(accept_errors)} accept error lines:\n" + "\n".join(accept_errors[:20])
    assert "Traceback" not in log
    if model in RUNS_OUT:
        assert accept_errors, f"the {model} server never ran out of descriptors: the test proves nothing"
        assert "Too many open files" in accept_errors[0] and "pausing new connections" in accept_errors[0]
        assert "accepting again after" in log
