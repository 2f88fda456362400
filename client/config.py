"""The client's knobs: one frozen dataclass, ``SOCKLAB_*`` in the environment, the same as flags."""

from __future__ import annotations

import math
from dataclasses import dataclass

from labconfig import option

from .protocol import parse_char


@dataclass(frozen=True)
class ClientConfig:
    server: str = option("server", "server host name or address", metavar="HOST")
    port: int = option(9736, "server TCP port")
    char: str = option("A", "the character to send: one character, or a byte as 0xNN", metavar="CHAR")
    connect_deadline: float = option(30.0, "keep retrying 'refused' and 'name not found' this long", metavar="SECONDS")
    reply_timeout: float = option(60.0, "give up waiting for the answer after this long", metavar="SECONDS")
    json: bool = option(False, "print one JSON result line instead of the classic line")
    repeat: int = option(1, "how many exchanges, one after another, each with its own connect retry")
    interval: float = option(0.0, "pause between repeated exchanges", metavar="SECONDS")
    wait_for_go: bool = option(
        False, "print 'ready' on stderr, then wait for SIGUSR1 before connecting: a start barrier for many hosts"
    )

    def __post_init__(self) -> None:
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
