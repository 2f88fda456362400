"""The image's HEALTHCHECK: healthy when the server answers on its transport.

The image has no shell, so the check is Python. Over tcp it connects to loopback and closes without
sending; over unix it connects from an abstract address the server recognises; neither is logged (see
``log_probes``). Over udp it sends an empty datagram, which the server answers at once with an empty one.
"""

from __future__ import annotations

import os
import socket
import sys

from wire import DEFAULT_PORT, DEFAULT_SOCKET_PATH

from .transports import HEALTH_PROBE_PREFIX

TIMEOUT = 2.0


def probe(transport: str, port: int, socket_path: str) -> None:
    """Return if the server answers; OSError (with what failed) if not."""
    if transport == "unix":
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(TIMEOUT)
            sock.bind(HEALTH_PROBE_PREFIX + str(os.getpid()).encode())
            sock.connect(socket_path)
    elif transport == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(TIMEOUT)
            sock.connect(("127.0.0.1", port))
            sock.send(b"")
            sock.recv(1)  # TimeoutError, or ConnectionRefusedError (ICMP) when nothing listens
    else:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT):
            pass


def main() -> int:
    transport = os.environ.get("SOCKLAB_TRANSPORT", "tcp")
    port = int(os.environ.get("SOCKLAB_PORT", str(DEFAULT_PORT)))
    path = os.environ.get("SOCKLAB_SOCKET_PATH", DEFAULT_SOCKET_PATH)
    try:
        probe(transport, port, path)
        return 0
    except OSError as exc:
        where = path if transport == "unix" else f"127.0.0.1:{port}"
        print(f"unhealthy: no answer over {transport} at {where}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
