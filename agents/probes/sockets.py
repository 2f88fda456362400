"""The probes' listening socket: one place for socket(), SO_REUSEADDR, bind() and listen()."""

from __future__ import annotations

import socket


def listener(port: int, backlog: int) -> socket.socket:
    """A TCP socket listening on every address of ``port``, rebindable at once after a probe ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", port))
    sock.listen(backlog)
    return sock
