"""The server's knobs: one frozen dataclass, ``SOCKLAB_*`` in the environment, the same as flags."""

from __future__ import annotations

import math
from dataclasses import dataclass

from labconfig import option
from wire import DEFAULT_PORT, DEFAULT_SOCKET_PATH, MODELS, TRANSPORTS, UnsupportedPair, check_pair


@dataclass(frozen=True)
class ServerConfig:
    transport: str = option("tcp", f"what to listen on: {', '.join(TRANSPORTS)}", metavar="TRANSPORT")
    bind: str = option(
        "0.0.0.0", "address to listen on for tcp and udp (0.0.0.0 every IPv4 interface, :: IPv6 too)", metavar="ADDRESS"
    )
    port: int = option(DEFAULT_PORT, "port to listen on for tcp and udp (0 picks a free one)")
    socket_path: str = option(DEFAULT_SOCKET_PATH, "the Unix socket's path, for transport unix", metavar="PATH")
    backlog: int = option(5, "listen() backlog: completed connections the kernel queues before accept()")
    delay: float = option(5.0, "seconds to wait between reading the byte and answering", metavar="SECONDS")
    idle_timeout: float = option(30.0, "close a client that sends nothing for this long", metavar="SECONDS")
    grace: float = option(10.0, "on SIGTERM, how long accepted connections may take to finish", metavar="SECONDS")
    model: str = option("fork", f"concurrency model: {', '.join(MODELS)} (udp: async only)", metavar="MODEL")
    resolve_names: bool = option(
        True, "name each peer in the log by reverse DNS (only containers on this host's own networks)"
    )
    log_probes: bool = option(
        False, "log loopback connections that close without sending (the image's health check makes them)"
    )

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is outside 0-65535")
        if self.backlog < 0:
            raise ValueError(f"backlog {self.backlog} is negative")
        for name in ("delay", "idle_timeout", "grace"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} {value} must be a finite number of seconds >= 0")
        if self.idle_timeout == 0:
            raise ValueError("idle_timeout 0 would close every client at once; use a positive number")
        try:
            check_pair(self.model, self.transport)
        except UnsupportedPair as exc:
            raise ValueError(str(exc)) from exc
        if self.transport == "unix" and not self.socket_path:
            raise ValueError("socket_path must name a file for transport unix")
