"""The run's event log: one JSON object per line, the only thing the report and the live view read.

    {"t": 1764676805.002, "kind": "served", "run": "3f2a9c1b0d4e", "host": "server", "data": {...}}

``t`` is POSIX seconds: the engine's timestamp for what a container printed or did, the host's clock for
what socklab itself did (a fault applied, a measurement). ``host`` is the lab role the event is about
(``server``, ``client-3``, ``fault``…) or ``""`` for the run as a whole. ``data`` holds the kind's fields,
described in ``kinds.SPECS``: the recorder refuses an event that does not match it (``InvalidEvent``), a
reader refuses a line without a required field (``MalformedEvent``) and ignores fields it does not know, so
the log can grow without breaking a saved file. A saved log replays: the view and the report never look at
Docker.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from socklab.events.kinds import SPECS, InvalidEvent, Kind, check, problems

__all__ = ["SPECS", "Event", "InvalidEvent", "Kind", "MalformedEvent", "check", "parse_log"]


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
        """Parse one line; raises MalformedEvent naming what is wrong (not JSON, an unknown kind, a required
        field missing or of the wrong type). Fields the kind does not declare are kept, unchecked."""
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
        if found := problems(kind, data, strict=False):
            raise MalformedEvent(f"{kind.value} event: " + "; ".join(found))
        try:
            return cls(kind=kind, t=t, run=run, host=str(record.get("host", "")), data=data)
        except ValueError as exc:
            raise MalformedEvent(str(exc)) from exc


def parse_log(text: str) -> list[Event]:
    """Every event of a saved log, in file order; blank lines are skipped."""
    return [Event.from_line(line) for line in text.splitlines() if line.strip()]
