"""The fork model when fork() fails (a pids limit): one clear line, the connection closed cleanly, and
one line when fork works again; never a crash. Run in-process with fork() made to fail."""

from __future__ import annotations

import io
import os
import socket
import time

import pytest

from server.config import ServerConfig
from server.handler import Connection
from server.log import Log
from server.models import ForkingServer


def connection() -> tuple[Connection, socket.socket]:
    ours, theirs = socket.socketpair()
    return Connection(ours, ("10.0.0.9", 4000), False, time.monotonic()), theirs


@pytest.fixture
def server():
    stream = io.StringIO()
    srv = ForkingServer(ServerConfig(port=0, bind="127.0.0.1", delay=0.0), Log(stream))
    try:
        yield srv, stream
    finally:
        srv.close()


def test_a_failing_fork_closes_the_connection_cleanly_and_says_so_once(server, monkeypatch):
    srv, stream = server

    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    peers = []
    for _ in range(3):
        conn, peer = connection()
        peer.sendall(b"A")  # the client's byte is already there: a plain close() would reset
        srv.process_request(conn)
        peers.append(peer)
    for peer in peers:
        peer.settimeout(1)
        assert peer.recv(1) == b""  # a clean close (EOF), not a reset and not a hang
    lines = stream.getvalue().splitlines()
    assert len([line for line in lines if "cannot fork" in line]) == 1, lines
    assert "Resource temporarily unavailable" in lines[0]
    assert srv.unforked == 3


def test_the_server_says_when_fork_works_again(server, monkeypatch):
    srv, stream = server
    srv.unforked = 2
    monkeypatch.setattr(os, "fork", lambda: 999999)  # the parent's side of a fork that worked
    conn, _peer = connection()
    srv.process_request(conn)
    assert "fork works again; 2 connection(s) were closed unanswered meanwhile" in stream.getvalue()
    assert srv.unforked == 0 and 999999 in srv.children
    srv.children.clear()
