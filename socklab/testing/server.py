"""The server under test, as the plugin's ``socklab_server`` fixture hands it to a test."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from socklab.lab.lab import Lab


@dataclass(frozen=True)
class Server:
    """A lab's running server, seen from the host (Linux reaches the lab network's addresses directly)."""

    lab: Lab

    @property
    def image(self) -> str:
        return str(self.lab.server_image)

    @property
    def address(self) -> str:
        return self.lab.server_address()

    @property
    def port(self) -> int:
        return self.lab.port

    @property
    def delay(self) -> float:
        return self.lab.delay

    def logs(self) -> str:
        return self.lab.server_logs()

    def ask(self, byte: int | bytes = b"A", *, timeout: float | None = None) -> bytes:
        """Send one byte (``b"A"`` or ``0x41``), return the answer (b"" when the server closed without one)."""
        request = bytes([byte]) if isinstance(byte, int) else bytes(byte)
        if len(request) != 1:
            raise ValueError(f"ask sends one byte, not {request!r}: the lesson's request is a single byte")
        wait = self.delay + 10 if timeout is None else timeout
        with socket.create_connection((self.address, self.port), timeout=wait) as conn:
            conn.sendall(request)
            return conn.recv(1)
