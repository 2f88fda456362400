"""Readiness as a strategy object: the server is ready when a TCP connection to it succeeds.

Any server image counts (ours, a foreign one, a static C one with no health check), so readiness is not
the image's HEALTHCHECK but the thing every client needs: a completed handshake on the lab network. The
host connects to the container's address on that network (Linux routes the host to its bridges); a
published port would not do, since docker-proxy accepts on the host before the server listens.
"""

from __future__ import annotations

import re
import socket
import time
from datetime import timedelta

from testcontainers.core.wait_strategies import LogMessageWaitStrategy
from testcontainers.core.waiting_utils import WaitStrategy, WaitStrategyTarget


class ServerExited(RuntimeError):
    """The container stopped before it accepted a connection."""


def container_address(container: WaitStrategyTarget, network: str) -> str:
    networks = container.get_wrapped_container().attrs["NetworkSettings"]["Networks"]
    return str(networks[network]["IPAddress"])


def wait_for_log(container: WaitStrategyTarget, pattern: str, timeout: float) -> None:
    """Wait until the container's output matches ``pattern`` (a regex), polling every 50 ms."""
    strategy = LogMessageWaitStrategy(re.compile(pattern)).with_startup_timeout(timedelta(seconds=timeout))
    strategy.with_poll_interval(0.05).wait_until_ready(container)


class ConnectWaitStrategy(WaitStrategy):
    """Wait until ``port`` accepts a connection at the container's address on ``network``."""

    def __init__(self, port: int, network: str) -> None:
        super().__init__()
        self._port = port
        self._network = network
        self._poll_interval = 0.05

    def wait_until_ready(self, container: WaitStrategyTarget) -> None:
        deadline = time.monotonic() + self._startup_timeout
        last_error: OSError | None = None
        while time.monotonic() < deadline:
            container.reload()
            if container.status not in ("created", "running"):
                out, err = container.get_logs()
                raise ServerExited(
                    f"server container is {container.status} before accepting on {self._port}:\n"
                    + (out + err).decode(errors="replace")[-3000:]
                )
            address = container_address(container, self._network)
            if address:
                try:
                    with socket.create_connection((address, self._port), timeout=1):
                        return
                except OSError as exc:
                    last_error = exc
            time.sleep(self._poll_interval)
        raise TimeoutError(
            f"nothing accepted a connection on port {self._port} within {self._startup_timeout:g} s "
            f"(last error: {last_error})"
        )
