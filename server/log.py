"""The server's log lines: how they are written and how a test or tool reads them back.

Every line is a single write to stdout, flushed at once, so that ``docker compose logs -f`` shows it live
and lines written by forked children never interleave (one write below PIPE_BUF is atomic).
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from typing import TextIO

from .protocol import describe


@dataclass(frozen=True)
class Peer:
    address: str
    port: int
    name: str | None = None

    def __str__(self) -> str:
        where = f"[{self.address}]:{self.port}" if ":" in self.address else f"{self.address}:{self.port}"
        return f"{where} ({self.name})" if self.name else where


class Log:
    """Writes one timestamped line per event."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def line(self, text: str) -> None:
        stream = self._stream or sys.stdout
        now = time.time()
        stamp = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1000):03d}"
        stream.write(f"{stamp} {text}\n")
        stream.flush()

    def started(self, *, version: str, model: str, bind: str, port: int, backlog: int, delay: float) -> None:
        self.line(
            f"socklab server {version} listening on {bind}:{port} (model {model}, backlog {backlog}, delay {delay:g} s)"
        )

    def waiting(self) -> None:
        self.line("server waiting for a connection")

    def accepted(self, address: tuple) -> None:
        self.line(f"accepted {Peer(address[0], address[1])}")

    def served(self, peer: Peer, request: int, reply: int, seconds: float) -> None:
        self.line(f"served {peer}: {describe(request)} -> {describe(reply)} in {seconds:.3f} s")

    def idle(self, peer: Peer, seconds: float) -> None:
        self.line(f"idle {peer}: sent nothing in {seconds:g} s, closed")

    def empty(self, peer: Peer) -> None:
        self.line(f"empty {peer}: closed without sending")

    def reset(self, peer: Peer, reason: str) -> None:
        self.line(f"lost {peer}: {reason}")

    def error(self, text: str) -> None:
        self.line(f"error {text}")

    def stopping(self, in_flight: int, grace: float) -> None:
        self.line(f"stopping: no new connections; {in_flight} in flight, grace {grace:g} s")

    def stopped(self, abandoned: int) -> None:
        if abandoned:
            self.line(f"stopped: {abandoned} connection(s) did not finish within the grace period")
        else:
            self.line("stopped: every accepted connection was answered")


@dataclass(frozen=True)
class ServedRecord:
    """One ``served`` line read back."""

    peer: Peer
    request: int
    reply: int
    seconds: float


_SERVED = re.compile(
    r"served (?:\[(?P<ip6>[^\]]+)\]|(?P<ip>[^\s:\[]+)):(?P<port>\d+)(?: \((?P<name>[^)]*)\))?:? "
    r"(?P<request>.+?) -> (?P<reply>.+?) in (?P<seconds>[0-9.]+) s$"
)
_HEX = re.compile(r"0x([0-9a-f]{2})\)?$")


def parse_served(line: str) -> ServedRecord | None:
    """The record of a ``served`` line, or None for any other line."""
    match = _SERVED.search(line.rstrip("\n"))
    if not match:
        return None
    request, reply = _HEX.search(match["request"]), _HEX.search(match["reply"])
    if not request or not reply:
        return None
    peer = Peer(match["ip6"] or match["ip"], int(match["port"]), match["name"])
    return ServedRecord(peer, int(request[1], 16), int(reply[1], 16), float(match["seconds"]))
