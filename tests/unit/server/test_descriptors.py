"""Out of file descriptors: every model pauses accepting, serves what it has, and answers everyone after."""

from __future__ import annotations

import resource
import socket
import threading

import pytest

from client.config import ClientConfig
from client.exchange import exchange
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


@pytest.mark.parametrize("model", ["thread", "fork"])
def test_with_the_lessons_backlog_every_client_is_answered_once_descriptors_free_up(model):
    """Backlog 5, as the lab runs it, and the client's own connect retry: the clients the server cannot
    accept yet must wait somewhere. In a full queue of 5 the kernel drops their SYNs and handshake ACKs,
    they back off exponentially, and some were never answered (measured before: 75 of 80 at delay 2)."""
    outcomes: list[str] = [""] * CLIENTS
    with ServerProcess(
        "--model", model, "--delay", "1", "--backlog", "5", "--no-log-probes", preexec_fn=few_descriptors
    ) as server:
        config = ClientConfig(server="127.0.0.1", port=server.port, connect_deadline=30, reply_timeout=30)

        def run(i: int) -> None:
            outcomes[i] = exchange(config).outcome

        clients = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(70)
        assert server.terminate() == 0
    assert outcomes == ["ok"] * CLIENTS, {o: outcomes.count(o) for o in set(outcomes)}
