"""The server's parts as an experiment uses them: a transport and a handler swapped by class attributes."""

from __future__ import annotations

import io
import socket
import threading
from pathlib import Path

from server.config import ServerConfig
from server.handler import Connection, StreamHandler
from server.log import Log
from server.models import ThreadingServer, server_class
from server.transports import UNIX


class EchoHandler(StreamHandler):
    """A deliberately wrong handler: sends the byte back unchanged."""

    def __call__(self, conn: Connection) -> None:
        with conn.sock:
            conn.sock.sendall(conn.sock.recv(1))


class UnixEchoServer(ThreadingServer):
    transport = UNIX
    handler = EchoHandler


def test_a_unix_server_with_a_swapped_handler_is_two_class_attributes(tmp_path: Path):
    path = str(tmp_path / "echo.sock")
    config = ServerConfig(model="thread", transport="unix", socket_path=path, resolve_names=False)
    server = UnixEchoServer(config, Log(io.StringIO()))
    serving = threading.Thread(target=server.serve_forever)
    serving.start()
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(path)
            sock.sendall(b"A")
            assert sock.recv(1) == b"A"  # the echo handler answered, not the plus-one one
    finally:
        server.shutdown()
        serving.join(10)
    assert not serving.is_alive() and not Path(path).exists()


def test_server_class_pairs_a_model_with_a_transport():
    unix_thread = server_class("thread", "unix")
    assert issubclass(unix_thread, ThreadingServer) and unix_thread.transport is UNIX
    assert server_class("thread", "tcp") is ThreadingServer
