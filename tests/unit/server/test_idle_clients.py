"""Idle clients (connected, sending nothing) must not delay a normal one: it is answered within delay + 1 s.

The idle connections are opened as fast as the host can, one after another, as a user's script does. A
model that spends long on each of them (the fork model forked a child per idle connection, ~1.5 ms of the
parent's time each) falls behind: the accept queue overflows and the next client waits behind a second of
forks, or its SYN is dropped and retried a second later. A backlog of 128 keeps this test quick (with the
lesson's 5, a loaded machine drops the openers' own SYNs: minutes); the lab's faults suite runs it with 5.
"""

from __future__ import annotations

import socket
import time

import pytest

from support import ServerProcess

DELAY = 1.0
IDLE = 1000


def answered_after(port: int) -> float:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=DELAY + 10) as conn:
        conn.sendall(b"A")
        assert conn.recv(1) == b"B"
    return time.monotonic() - started


@pytest.mark.parametrize("model", ["fork", "thread", "async", "epoll"])
def test_a_thousand_idle_connections_do_not_delay_a_normal_client(model: str) -> None:
    with ServerProcess("--model", model, "--delay", f"{DELAY:g}", "--backlog", "128", "--log", "summary") as server:
        idle = []
        try:
            for _ in range(IDLE):
                idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=30))
            waited = answered_after(server.port)
        finally:
            for conn in idle:
                conn.close()
        assert server.terminate() == 0
    assert waited <= DELAY + 1, f"a normal client waited {waited:.2f} s behind {IDLE} idle connections"
