"""The run's event log: one JSON object per line, the only thing the report and the live view read.

    {"t": 1764676805.002, "kind": "served", "run": "3f2a9c1b0d4e", "host": "server", "data": {...}}

``t`` is POSIX seconds: the engine's timestamp for what a container printed or did, the host's clock for
what socklab itself did (a fault applied, a measurement). ``host`` is the lab role the event is about
(``server``, ``client-3``, ``fault``…) or ``""`` for the run as a whole. ``data`` holds the kind's fields,
listed in ``FIELDS``; a reader ignores fields it does not know, so the log can grow without breaking a
saved file. A saved log replays: the view and the report never look at Docker.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What happened. The value is what the log line spells."""

    RUN_STARTED = "run.started"  # command, args (dict), title
    HOST = "host"  # role, address, image, version (server version or client image), network
    CONTAINER_STARTED = "container.started"  # role, image
    CONTAINER_STOPPED = "container.stopped"  # role, exit_code
    CONNECTED = "connected"  # client side: the client opened its connection (peer = server address)
    ACCEPTED = "accepted"  # server side: peer (ip:port), version
    SERVED = "served"  # server side: peer, request, reply (bytes as ints), seconds, version
    ANSWERED = "answered"  # client side: reply (the byte as int, or None), seconds, ok (bool)
    FAILED = "failed"  # client side: error (one line), seconds
    FAULT_APPLIED = "fault.applied"  # name, target, spec (dict), until (POSIX, or None)
    FAULT_UNDONE = "fault.undone"  # name, target, report (dict: what it did)
    MEASUREMENT = "measurement"  # name, value, unit, labels (dict)
    PACKET = "packet"  # a TCP segment, captured in host's namespace (trace, --kernel): src, dst, flags, seq, …, conn
    SOCKET = "socket"  # a socket's state changed in host's namespace (--kernel): key, local, peer, state, queues, …
    SYSCALL = "syscall"  # a traced system call of host's processes (--kernel): pid, call, args, result, seconds, …
    VERDICT = "verdict"  # ok (bool), text (one line), details (list of str)
    RUN_FINISHED = "run.finished"  # exit_code


FIELDS: dict[Kind, tuple[str, ...]] = {
    Kind.RUN_STARTED: ("command", "args", "title"),
    Kind.HOST: ("role", "address", "image", "version", "network"),
    Kind.CONTAINER_STARTED: ("role", "image"),
    Kind.CONTAINER_STOPPED: ("role", "exit_code"),
    Kind.CONNECTED: ("peer",),
    Kind.ACCEPTED: ("peer", "version"),
    Kind.SERVED: ("peer", "request", "reply", "seconds", "version"),
    Kind.ANSWERED: ("reply", "seconds", "ok"),
    Kind.FAILED: ("error", "seconds"),
    Kind.FAULT_APPLIED: ("name", "target", "spec", "until"),
    Kind.FAULT_UNDONE: ("name", "target", "report"),
    Kind.MEASUREMENT: ("name", "value", "unit", "labels"),
    Kind.PACKET: ("src", "dst", "flags", "seq", "ack", "length", "label", "retransmission", "payload", "conn"),
    Kind.SOCKET: (
        *("key", "local", "peer", "state", "recv_q", "send_q", "backlog", "rtt_ms", "cwnd", "retrans"),
        *("conn", "probe"),
    ),
    Kind.SYSCALL: ("pid", "call", "args", "result", "seconds", "done", "fd", "socket", "conn"),
    Kind.VERDICT: ("ok", "text", "details"),
    Kind.RUN_FINISHED: ("exit_code",),
}


class MalformedEvent(ValueError):
    """A line of an event log that is not one of its events (the file is not a socklab log, or was cut)."""


@dataclass(frozen=True)
class Event:
    """One line of the log."""

    kind: Kind
    t: float
    run: str
    host: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not math.isfinite(self.t):
            raise ValueError(f"event time must be finite, got {self.t!r}")

    def to_line(self) -> str:
        """The event as one JSON line (no newline)."""
        record = {"t": round(self.t, 6), "kind": str(self.kind), "run": self.run, "host": self.host, "data": self.data}
        return json.dumps(record, separators=(",", ":"), sort_keys=False, default=str)

    @classmethod
    def from_line(cls, line: str) -> Event:
        """Parse one line; raises MalformedEvent naming what is wrong. Unknown data fields are kept."""
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise MalformedEvent(f"not JSON: {exc}") from exc
        if not isinstance(record, dict):
            raise MalformedEvent("not a JSON object")
        try:
            kind = Kind(record["kind"])
            t = float(record["t"])
            run = str(record["run"])
        except (KeyError, ValueError, TypeError) as exc:
            raise MalformedEvent(f"missing or bad kind/t/run: {exc}") from exc
        data = record.get("data", {})
        if not isinstance(data, dict):
            raise MalformedEvent("data is not an object")
        try:
            return cls(kind=kind, t=t, run=run, host=str(record.get("host", "")), data=data)
        except ValueError as exc:
            raise MalformedEvent(str(exc)) from exc


def parse_log(text: str) -> list[Event]:
    """Every event of a saved log, in file order; blank lines are skipped."""
    return [Event.from_line(line) for line in text.splitlines() if line.strip()]
