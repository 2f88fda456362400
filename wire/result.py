"""The client's result record: one JSON line per exchange on the client's stdout (``--json``).

The JSON keys are those the client has always printed (``sent``/``received`` as characters, ``sent_byte``/
``received_byte`` as numbers, …) plus ``transport`` and ``retried_cuts``; a line written before those two
existed reads back with ``tcp`` and 0.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any


class MalformedResult(ValueError):
    """A line that claims to be a result (a JSON object with an ``outcome``) but is not a valid one."""


@dataclass(frozen=True)
class ClientResult:
    """What one exchange did, as the client saw it."""

    host: str  # the client's host name (its container's)
    address: str | None  # the client's own endpoint on the connection (ip:port; None over unix)
    server: str | None  # the server's endpoint as connected (ip:port, or the socket path)
    sent: int  # the byte sent
    received: int | None  # the byte received, None when nothing came back
    connect_seconds: float | None  # from start (including retries) to connected
    answer_seconds: float | None  # from connected to the answer (or the failure)
    connected_at: float | None  # POSIX time, so that several hosts' intervals line up
    answered_at: float | None
    attempts: int  # connection attempts, over every retry
    outcome: str  # "ok", or the failure's name ("no-connection", "timeout", "closed", "wrong-answer")
    exit_code: int
    error: str | None = None
    transport: str = "tcp"
    retried_cuts: int = 0  # exchanges cut before their answer and retried (SOCKLAB_RETRY_CUT)

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def received_char(self) -> str | None:
        return None if self.received is None else chr(self.received)

    def to_json(self) -> str:
        data: dict[str, Any] = dataclasses.asdict(self)
        data["sent"] = chr(self.sent)
        data["received"] = self.received_char
        data["sent_byte"], data["received_byte"] = self.sent, self.received
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ClientResult:
        """The record of one result line; MalformedResult if it is not one."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MalformedResult(f"not JSON: {exc}: {text[:200]!r}") from exc
        if not isinstance(data, dict):
            raise MalformedResult(f"not a JSON object: {text[:200]!r}")
        return _from_dict(data, text)


# JSON types each annotation accepts (annotations are strings here); the fields themselves are the one list.
_JSON_TYPES: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (int, float), "None": (type(None),)}
_BYTES = ("sent", "received")  # written as a character and a number: read by _byte


def _accepted(annotation: str) -> tuple[type, ...]:
    return tuple(kind for part in annotation.split("|") for kind in _JSON_TYPES[part.strip()])


def _byte(data: dict[str, Any], key: str) -> int:
    """A byte from ``<key>_byte`` (a number), or from ``<key>`` (a one-character string)."""
    value = data.get(f"{key}_byte", data.get(key))
    if isinstance(value, str) and len(value) == 1:
        value = ord(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise MalformedResult(f"{key} is {value!r}, not a byte")
    return value


def _from_dict(data: dict[str, Any], text: str) -> ClientResult:
    values: dict[str, Any] = {}
    for field in dataclasses.fields(ClientResult):
        if field.name in _BYTES:
            continue
        if field.name not in data:
            if field.default is dataclasses.MISSING:
                raise MalformedResult(f"no {field.name!r} in {text[:200]!r}")
            continue  # a line from before the field existed: its default
        value, types = data[field.name], _accepted(str(field.type))
        if isinstance(value, bool) or not isinstance(value, types):
            raise MalformedResult(f"{field.name} is {value!r}, of the wrong type, in {text[:200]!r}")
        values[field.name] = float(value) if isinstance(value, int) and float in types else value
    return ClientResult(
        sent=_byte(data, "sent"),
        received=None if data.get("received_byte", data.get("received")) is None else _byte(data, "received"),
        **values,
    )


def parse_results(text: str) -> list[ClientResult]:
    """Every result line in a client's stdout, in order; other lines (the classic line, logs) are skipped.

    A result line is a JSON object with an ``outcome``; one that is malformed raises MalformedResult,
    since a client that prints a broken record is worth knowing about.
    """
    results = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("{"):
            continue
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            continue  # some other program's braces
        if isinstance(data, dict) and "outcome" in data:
            results.append(_from_dict(data, stripped))
    return results
