"""The client's knobs: one frozen dataclass, ``SOCKLAB_*`` in the environment, the same as flags."""

from __future__ import annotations

import math
from dataclasses import dataclass

from labconfig import option
from wire import DEFAULT_PORT, DEFAULT_SOCKET_PATH, TRANSPORTS

from .protocol import parse_char


@dataclass(frozen=True)
class ClientConfig:
    transport: str = option("tcp", f"how to reach the server: {', '.join(TRANSPORTS)}", metavar="TRANSPORT")
    server: str = option("server", "server host name or address (tcp, udp)", metavar="HOST")
    port: int = option(DEFAULT_PORT, "server port (tcp, udp)")
    socket_path: str = option(DEFAULT_SOCKET_PATH, "the server's Unix socket (unix)", metavar="PATH")
    char: str = option("A", "the character to send: one character, or a byte as 0xNN", metavar="CHAR")
    connect_deadline: float = option(
        30.0,
        "keep retrying 'refused', 'name not found' (and cut exchanges, see retry-cut) this long",
        metavar="SECONDS",
    )
    reply_timeout: float = option(60.0, "give up waiting for the answer after this long", metavar="SECONDS")
    json: bool = option(False, "print one JSON result line instead of the classic line")
    repeat: int = option(1, "how many exchanges, one after another, each with its own connect retry")
    interval: float = option(0.0, "pause between repeated exchanges", metavar="SECONDS")
    retry_cut: bool = option(
        False,
        "retry an exchange cut before its answer (closed or reset) until the connect deadline; safe, since "
        "asking again is harmless; the result counts the retries",
    )
    udp_resend: float = option(
        0.0, "udp: send the datagram again after this long without an answer (0: never)", metavar="SECONDS"
    )
    wait_for_go: bool = option(
        False, "print 'ready' on stderr, then wait for SIGUSR1 before connecting: a start barrier for many hosts"
    )

    def __post_init__(self) -> None:
        if self.transport not in TRANSPORTS:
            raise ValueError(f"unknown transport {self.transport!r}; choose one of {', '.join(TRANSPORTS)}")
        if self.transport == "unix" and not self.socket_path:
            raise ValueError("socket_path must name the server's socket for transport unix")
        if not math.isfinite(self.udp_resend) or self.udp_resend < 0:
            raise ValueError(f"udp_resend {self.udp_resend} must be a number of seconds >= 0")
        if not self.server:
            raise ValueError("server must name a host")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is outside 1-65535")
        try:
            parse_char(self.char)
        except ValueError as exc:
            raise ValueError(f"char {exc}") from exc
        if self.repeat < 1:
            raise ValueError(f"repeat {self.repeat} must be at least 1")
        if not math.isfinite(self.interval) or self.interval < 0:
            raise ValueError(f"interval {self.interval} must be a number of seconds >= 0")
        for name in ("connect_deadline", "reply_timeout"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} {value} must be a positive number of seconds")

    @property
    def byte(self) -> int:
        return parse_char(self.char)
