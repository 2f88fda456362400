"""The server's ``served`` log line: one per answered request, written by the server, read by the host.

    12:00:05.002 served 172.18.0.3:40122 (socklab-client-1.lab): 'A' (0x41) -> 'B' (0x42) in 5.001 s

The stamp is the UTC time of day the answer went out and ``seconds`` how long the request took from
accept (or the datagram's arrival), so the host can place every request in time from the server's log
alone — also for a client that prints no JSON. The C server writes the same line without a stamp; read
with ``docker logs --timestamps``, the engine's stamp in front of a line is taken instead.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass

UNIX_PEER = "unix"  # a Unix-socket client has no address: the server numbers its connections instead


@dataclass(frozen=True)
class Peer:
    """Who the server talked to: ip and port, or ``unix`` and the connection's number."""

    address: str
    port: int
    name: str | None = None  # the peer's name by reverse DNS, when the server looked it up

    def __str__(self) -> str:
        where = f"[{self.address}]:{self.port}" if ":" in self.address else f"{self.address}:{self.port}"
        return f"{where} ({self.name})" if self.name else where


def describe(byte: int) -> str:
    """A byte as a learner reads it: 'A' (0x41), or just 0x00 when it is not printable."""
    char = chr(byte)
    return f"{char!r} (0x{byte:02x})" if char.isprintable() and byte < 0x7F else f"0x{byte:02x}"


def format_stamp(posix: float) -> str:
    """The log's time-of-day stamp, UTC, to the millisecond: 12:00:05.002."""
    return time.strftime("%H:%M:%S", time.gmtime(posix)) + f".{int(posix % 1 * 1000):03d}"


@dataclass(frozen=True)
class ServedRecord:
    """One ``served`` line."""

    peer: Peer
    request: int
    reply: int
    seconds: float  # from accept (or arrival) to the answer
    at: dt.time | None = None  # the line's own stamp: when the answer went out (UTC time of day)
    logged_at: dt.datetime | None = None  # the engine's stamp (``docker logs --timestamps``), when read so

    def to_line(self) -> str:
        """The line as the server writes it (with the stamp when ``at`` is set)."""
        text = f"served {self.peer}: {describe(self.request)} -> {describe(self.reply)} in {self.seconds:.3f} s"
        if self.at is None:
            return text
        return f"{self.at.strftime('%H:%M:%S')}.{self.at.microsecond // 1000:03d} {text}"

    def interval(self, day: dt.date | None = None) -> tuple[float, float] | None:
        """(accepted, answered) as POSIX times: from the engine's stamp, else the line's own on ``day``.

        ``day`` (UTC) is needed for the line's own stamp, which has no date; None when neither is known.
        """
        if self.logged_at is not None:
            answered = self.logged_at.timestamp()
        elif self.at is not None and day is not None:
            answered = dt.datetime.combine(day, self.at, tzinfo=dt.UTC).timestamp()
        else:
            return None
        return answered - self.seconds, answered

    @classmethod
    def from_line(cls, line: str) -> ServedRecord | None:
        """The record of a ``served`` line, or None for any other line."""
        return parse_served(line)


_ENGINE_STAMP = re.compile(r"^(?P<day>\d{4}-\d\d-\d\d)T(?P<clock>\d\d:\d\d:\d\d)(?:\.(?P<frac>\d+))?Z ")
_OWN_STAMP = re.compile(r"(?:^|\s)(?P<clock>\d\d:\d\d:\d\d)\.(?P<ms>\d{3}) served ")
_SERVED = re.compile(
    r"served (?:\[(?P<ip6>[^\]]+)\]|(?P<ip>[^\s:\[]+)):(?P<port>\d+)(?: \((?P<name>[^)]*)\))?:? "
    r"(?P<request>.+?) -> (?P<reply>.+?) in (?P<seconds>[0-9.]+) s$"
)
_HEX = re.compile(r"0x([0-9a-f]{2})\)?$")


def _engine_stamp(line: str) -> dt.datetime | None:
    match = _ENGINE_STAMP.match(line)
    if not match:
        return None
    micros = (match["frac"] or "0")[:6].ljust(6, "0")  # the engine writes nanoseconds
    return dt.datetime.fromisoformat(f"{match['day']}T{match['clock']}.{micros}+00:00")


def _own_stamp(line: str) -> dt.time | None:
    match = _OWN_STAMP.search(line)
    if not match:
        return None
    return dt.time.fromisoformat(match["clock"]).replace(microsecond=int(match["ms"]) * 1000)


def parse_served(line: str) -> ServedRecord | None:
    """The record of a ``served`` line (ours, with or without stamps, or the C server's); None otherwise."""
    line = line.rstrip("\n")
    match = _SERVED.search(line)
    if not match:
        return None
    request, reply = _HEX.search(match["request"]), _HEX.search(match["reply"])
    if not request or not reply:
        return None
    return ServedRecord(
        Peer(match["ip6"] or match["ip"], int(match["port"]), match["name"]),
        int(request[1], 16),
        int(reply[1], 16),
        float(match["seconds"]),
        at=_own_stamp(line),
        logged_at=_engine_stamp(line),
    )


def parse_served_log(text: str) -> list[ServedRecord]:
    """Every ``served`` record in a server's log, in order."""
    return [record for line in text.splitlines() if (record := parse_served(line)) is not None]
