"""The serial server is the textbook's iterative loop: it accepts a connection only when it is done with the
last one, so the clients that come meanwhile wait in the kernel's accept queue, which holds backlog + 1 of
them (what ``--kernel`` shows filling up); the SYN of one more is dropped."""

from __future__ import annotations

import contextlib
import socket

import pytest

from support import ServerProcess


def connect(port: int, timeout: float) -> socket.socket:
    client = socket.socket()
    try:
        client.settimeout(timeout)
        client.connect(("127.0.0.1", port))
        client.sendall(b"A")
    except OSError:
        client.close()
        raise
    return client


def test_a_client_that_comes_while_it_serves_waits_in_the_kernels_queue_of_backlog_plus_one():
    clients: list[socket.socket] = []
    with (
        ServerProcess("--model", "serial", "--delay", "1", "--backlog", "1") as server,
        contextlib.ExitStack() as stack,
    ):
        stack.callback(lambda: [c.close() for c in clients])
        clients.append(connect(server.port, 5))
        server.wait_for(r"accepted 127\.0\.0\.1:\d+")  # client 1, being served for 1 s
        clients += [connect(server.port, 5) for _ in range(2)]  # 2 and 3: the queue's 2 places
        server.wait_for(r"served 127\.0\.0\.1:\d+")
        second = clients[1].getsockname()[1]
        server.wait_for(rf"accepted 127\.0\.0\.1:{second}\b")  # it took client 2, and only client 2
        clients.append(connect(server.port, 5))  # client 4 takes the place client 2 left
        with pytest.raises(TimeoutError):  # client 5 finds 3 and 4 there: its SYN is dropped (sent again in 1 s)
            clients.append(connect(server.port, 0.5))
