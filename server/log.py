"""The server's log lines: how they are written and how a test or tool reads them back.

Every line is a single write to stdout, flushed at once, so that ``docker compose logs -f`` shows it live
and lines written by forked children never interleave (one write below PIPE_BUF is atomic).
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import TextIO

from wire import Peer, ServedRecord, format_stamp, parse_served

__all__ = ["Log", "Peer", "ServedRecord", "parse_served"]  # the record types live in wire


class Log:
    """Writes one timestamped line per event."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def line(self, text: str) -> None:
        self._write(f"{format_stamp(time.time())} {text}")

    def _write(self, line: str) -> None:
        stream = self._stream or sys.stdout
        stream.write(line + "\n")
        stream.flush()

    def started(self, *, version: str, model: str, transport: str, where: str, backlog: int, delay: float) -> None:
        self.line(
            f"socklab server {version} listening on {where} "
            f"({transport}, model {model}, backlog {backlog}, delay {delay:g} s)"
        )

    def waiting(self) -> None:
        self.line("server waiting for a connection")

    def accepted(self, peer: tuple[str, int]) -> None:
        self.line(f"accepted {Peer(peer[0], peer[1])}")

    def received(self, peer: tuple[str, int]) -> None:
        self.line(f"datagram from {Peer(peer[0], peer[1])}")

    def served(self, peer: Peer, request: int, reply: int, seconds: float) -> None:
        at = dt.datetime.now(dt.UTC).time()
        self._write(ServedRecord(peer, request, reply, seconds, at=at).to_line())

    def idle(self, peer: Peer, seconds: float) -> None:
        self.line(f"idle {peer}: sent nothing in {seconds:g} s, closed")

    def empty(self, peer: Peer) -> None:
        self.line(f"empty {peer}: closed without sending")

    def empty_datagram(self, peer: Peer) -> None:
        self.line(f"empty {peer}: an empty datagram, answered at once with an empty one")

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
