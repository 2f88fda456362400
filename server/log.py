"""The server's log lines: how they are written and how a test or tool reads them back.

Every line is a single write to stdout, flushed at once, so that ``docker compose logs -f`` shows it live
and lines written by forked children never interleave (one write below PIPE_BUF is atomic).

``threading`` is imported only when a summary ticker thread is started: its at-fork hook runs Python code
in every forked child (measured: ~0.7 ms of the child's CPU per fork), so the fork model, which ticks the
summary from its own loop (``tick``), never imports it.
"""

from __future__ import annotations

import _thread
import datetime as dt
import sys
import time
from collections.abc import Callable
from typing import TextIO

from wire import LOG_MODES, Peer, ServedRecord, format_stamp, parse_served

__all__ = ["LOG_MODES", "Counts", "Log", "Peer", "ServedRecord", "parse_served"]  # the record types live in wire

SUMMARY_SECONDS = 1.0


class Counts:
    """Connections accepted, served, and ended otherwise (idle, empty, lost): totals since the start.
    Thread-safe: the thread model counts from every connection's thread."""

    def __init__(self) -> None:
        self.accepted = self.served = self.errors = 0
        self._lock = _thread.allocate_lock()  # threading.Lock itself, without importing threading

    def add(self, *, accepted: int = 0, served: int = 0, errors: int = 0) -> None:
        with self._lock:
            self.accepted += accepted
            self.served += served
            self.errors += errors

    def totals(self) -> tuple[int, int, int]:
        return self.accepted, self.served, self.errors


class Log:
    """Writes one timestamped line per event (``connections``), or a summary a second, or neither."""

    def __init__(self, stream: TextIO | None = None, mode: str = "connections") -> None:
        if mode not in LOG_MODES:
            raise ValueError(f"unknown log mode {mode!r}; choose one of {', '.join(LOG_MODES)}")
        self._stream = stream
        self.mode = mode
        self.per_connection = mode == "connections"
        self.counts = Counts()
        self._totals: Callable[[], tuple[int, int, int]] | None = None
        self._stop_ticker: Callable[[], None] | None = None
        self._next_summary = 0.0

    # --- the summary ---------------------------------------------------------------------------------
    def summary(self, *, accepted: int, served: int, in_flight: int, errors: int) -> None:
        self.line(f"summary: accepted {accepted}, served {served}, in flight {in_flight}, errors {errors}")

    def summarise(self) -> None:
        if self._totals is not None:
            accepted, served, errors = self._totals()
            self.summary(accepted=accepted, served=served, in_flight=accepted - served - errors, errors=errors)

    def start_summary(self, totals: Callable[[], tuple[int, int, int]] | None = None, *, thread: bool = True) -> None:
        """In ``summary`` mode, print ``totals()`` (default: this log's counts) every second until stopped:
        from a thread of its own, or (``thread=False``) whenever the caller's loop calls ``tick``."""
        if self.mode != "summary" or self._totals is not None:
            return
        self._totals = totals or self.counts.totals
        self._next_summary = time.monotonic() + SUMMARY_SECONDS
        if not thread:
            return
        import threading  # here, not at the top: see the module's docstring

        ticking = threading.Event()
        self._stop_ticker = ticking.set

        def ticker() -> None:
            while not ticking.wait(SUMMARY_SECONDS):
                self.summarise()

        threading.Thread(target=ticker, name="socklab-summary", daemon=True).start()

    def tick(self) -> float | None:
        """Print the summary if it is due (``start_summary(thread=False)``); seconds until the next one."""
        if self._totals is None or self._stop_ticker is not None:
            return None
        now = time.monotonic()
        if now >= self._next_summary:
            self.summarise()
            self._next_summary += SUMMARY_SECONDS
            if self._next_summary <= now:  # the loop was held up: one line now, the next a second on
                self._next_summary = now + SUMMARY_SECONDS
        return self._next_summary - now

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
        if self.per_connection:
            self.line("server waiting for a connection")

    def accepted(self, peer: tuple[str, int]) -> None:
        self.counts.add(accepted=1)
        if self.per_connection:
            self.line(f"accepted {Peer(peer[0], peer[1])}")

    def received(self, peer: tuple[str, int]) -> None:
        self.counts.add(accepted=1)  # a datagram is the connection of UDP: counted the same way
        if self.per_connection:
            self.line(f"datagram from {Peer(peer[0], peer[1])}")

    def served(self, peer: Peer, request: int, reply: int, seconds: float) -> None:
        self.counts.add(served=1)
        if self.per_connection:
            at = dt.datetime.now(dt.UTC).time()
            self._write(ServedRecord(peer, request, reply, seconds, at=at).to_line())

    def idle(self, peer: Peer, seconds: float) -> None:
        self.counts.add(errors=1)
        if self.per_connection:
            self.line(f"idle {peer}: sent nothing in {seconds:g} s, closed")

    def empty(self, peer: Peer) -> None:
        self.counts.add(errors=1)
        if self.per_connection:
            self.line(f"empty {peer}: closed without sending")

    def empty_datagram(self, peer: Peer) -> None:
        self.counts.add(errors=1)
        if self.per_connection:
            self.line(f"empty {peer}: an empty datagram, answered at once with an empty one")

    def reset(self, peer: Peer, reason: str) -> None:
        self.counts.add(errors=1)
        if self.per_connection:
            self.line(f"lost {peer}: {reason}")

    def outcome(self, served: bool) -> None:
        """Count a connection served elsewhere (a forked child), without a line."""
        self.counts.add(served=1) if served else self.counts.add(errors=1)

    def error(self, text: str) -> None:
        self.line(f"error {text}")

    def stopping(self, in_flight: int, grace: float) -> None:
        self.line(f"stopping: no new connections; {in_flight} in flight, grace {grace:g} s")

    def stopped(self, abandoned: int) -> None:
        if self._stop_ticker is not None:
            self._stop_ticker()
        self.summarise()  # the final totals, in summary mode
        if abandoned:
            self.line(f"stopped: {abandoned} connection(s) did not finish within the grace period")
        else:
            self.line("stopped: every accepted connection was answered")
