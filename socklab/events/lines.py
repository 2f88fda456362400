"""What the containers' own lines mean as events: pure functions over text, no Docker.

The server's lines (``wire/served.py``, ``server/log.py``) become ``accepted`` and ``served``; the client's
JSON result line (``wire/result.py``) becomes ``connected`` and ``answered`` or ``failed``. Each is placed
in time by the engine's stamp (``docker logs --timestamps``) when there is one, else by the line's own.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from socklab import wire
from socklab.events.schema import Kind

_ENGINE_STAMP = re.compile(r"^(?P<day>\d{4}-\d\d-\d\d)T(?P<clock>\d\d:\d\d:\d\d)(?:\.(?P<frac>\d+))?Z ")
_ACCEPTED = re.compile(r"(?:^|\s)accepted (?:\[(?P<ip6>[^\]]+)\]|(?P<ip>[^\s:\[]+)):(?P<port>\d+)")
_STARTED = re.compile(r"socklab server (?P<version>\S+) listening on (?P<where>\S+) \((?P<what>[^)]*)\)")


@dataclass(frozen=True)
class LineEvent:
    """An event read from one line: its kind, when (POSIX seconds, None if the line has no stamp), data."""

    kind: Kind
    t: float | None
    data: dict[str, Any]


def engine_stamp(line: str) -> tuple[float | None, str]:
    """The engine's stamp in front of a line (POSIX seconds) and the line without it."""
    match = _ENGINE_STAMP.match(line)
    if not match:
        return None, line
    micros = (match["frac"] or "0")[:6].ljust(6, "0")  # the engine writes nanoseconds
    when = dt.datetime.fromisoformat(f"{match['day']}T{match['clock']}.{micros}+00:00")
    return when.timestamp(), line[match.end() :]


def server_line(line: str, *, version: str = "") -> LineEvent | None:
    """The event a server's log line says (accepted, served), or None for any other line.

    ``version``: what to call the server (its image) when the line does not say; a ``served`` event's ``t``
    is when the answer went out, and its ``accepted_at`` the start of the request.
    """
    line = line.rstrip("\r\n")
    stamp, text = engine_stamp(line)
    if (record := wire.parse_served(line)) is not None:
        answered = stamp
        if answered is None and record.at is not None:
            answered = dt.datetime.combine(dt.datetime.now(dt.UTC).date(), record.at, tzinfo=dt.UTC).timestamp()
        data: dict[str, Any] = {
            "peer": f"{record.peer.address}:{record.peer.port}",
            "request": record.request,
            "reply": record.reply,
            "seconds": record.seconds,
            "version": version,
        }
        if record.peer.name:
            data["name"] = record.peer.name
        if answered is not None:
            data["accepted_at"] = round(answered - record.seconds, 6)
        return LineEvent(Kind.SERVED, answered, data)
    if (match := _ACCEPTED.search(text)) is not None:
        peer = f"{match['ip6'] or match['ip']}:{match['port']}"
        return LineEvent(Kind.ACCEPTED, stamp, {"peer": peer, "version": version})
    return None


def server_version(line: str) -> str | None:
    """The version a server's start line names (``socklab server 3.1 listening on …``), else None."""
    match = _STARTED.search(line)
    return None if match is None else f"{match['version']} ({match['what']})"


def client_events(result: wire.ClientResult) -> list[LineEvent]:
    """``connected`` (when the client got a connection) and ``answered`` or ``failed`` for one exchange."""
    events = []
    if result.connected_at is not None:
        events.append(
            LineEvent(Kind.CONNECTED, result.connected_at, {"peer": result.server, "address": result.address})
        )
    total = (result.connect_seconds or 0.0) + (result.answer_seconds or 0.0)
    end = result.answered_at
    if end is None and result.connected_at is not None and result.answer_seconds is not None:
        end = result.connected_at + result.answer_seconds
    common: dict[str, Any] = {"address": result.address, "attempts": result.attempts, "outcome": result.outcome}
    if result.ok:
        ok = result.received == wire.expected_reply(result.sent)
        data: dict[str, Any] = {
            "reply": result.received,
            "seconds": result.answer_seconds,
            "ok": ok,
            "sent": result.sent,
        }
        events.append(LineEvent(Kind.ANSWERED, end, data | common | {"connected_at": result.connected_at}))
    else:
        data = {"error": result.error or result.outcome, "seconds": round(total, 6), "sent": result.sent}
        events.append(LineEvent(Kind.FAILED, end, data | common | {"connected_at": result.connected_at}))
    return events
