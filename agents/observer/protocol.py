"""What the observer and the tracer say to the host, and what the host tells the observer: one JSON object a line.

Stdlib only, imported on both sides (the host as ``socklab.observer.protocol``). Every line carries ``msg``, its
kind, and the fields ``MESSAGES`` lists for that kind, each of its type (None allowed where the type says so);
``dump`` refuses to write a line that breaks that and ``parse`` to read one, naming what is wrong.

    {"msg": "socket", "ns": "client-2", "t": 1764676805.002, "socket": {"key": "...", "state": "ESTABLISHED", ...}}

Host -> observer (on its stdin): ``watch`` a container's network namespace (by a PID in it), ``forget`` it.
Observer -> host: ``watching`` (the namespace is open), ``sampling`` (how often it is to be sampled now),
``sampled`` (how often it was, when it is forgotten), ``socket``
(a socket changed), ``frame`` (a TCP frame, base64, cut to ``SNAP`` bytes), ``skipped`` (frames over the cap),
``lost`` (a namespace could not be read), ``forgotten``, ``failed``.
Tracer -> host: ``attached`` (strace holds every process of the server), ``syscall``, ``exited`` (a process).
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["MESSAGES", "ProtocolError", "dump", "parse"]

_Types = tuple[type, ...]
_TEXT: _Types = (str,)
_INT: _Types = (int,)
_NUMBER: _Types = (int, float)
_FLAG: _Types = (bool,)
_MAYBE_TEXT: _Types = (str, type(None))
_MAYBE_INT: _Types = (int, type(None))
_MAYBE_NUMBER: _Types = (int, float, type(None))

MESSAGES: dict[str, dict[str, _Types]] = {
    # host -> observer
    "watch": {"ns": _TEXT, "pid": _INT, "interval_s": _NUMBER, "capture": _FLAG, "server": _FLAG},
    "forget": {"ns": _TEXT},
    # observer -> host
    "watching": {"ns": _TEXT, "t": _NUMBER, "pid": _INT, "interval_s": _NUMBER, "capture": _FLAG},
    "sampling": {"ns": _TEXT, "t": _NUMBER, "interval_s": _NUMBER, "cost_ms": _NUMBER},
    "sampled": {"ns": _TEXT, "t": _NUMBER, "samples": _INT, "mean_s": _NUMBER, "max_gap_s": _NUMBER},
    "socket": {"ns": _TEXT, "t": _NUMBER, "socket": (dict,)},
    "frame": {"ns": _TEXT, "t": _NUMBER, "frame": _TEXT, "outgoing": _FLAG},
    "skipped": {"ns": _TEXT, "t": _NUMBER, "frames": _INT},
    "lost": {"ns": _TEXT, "t": _NUMBER, "error": _TEXT},
    "forgotten": {"ns": _TEXT, "t": _NUMBER},
    "failed": {"t": _NUMBER, "error": _TEXT},
    # tracer -> host
    "attached": {"t": _NUMBER, "pids": (list,), "from_start": _FLAG},
    "syscall": {
        "t": _NUMBER,
        "pid": _INT,
        "call": _TEXT,
        "args": _TEXT,
        "result": _MAYBE_TEXT,
        "seconds": _MAYBE_NUMBER,
        "done": _FLAG,
        "fd": _MAYBE_INT,
        "socket": _MAYBE_TEXT,
    },
    "exited": {"t": _NUMBER, "pid": _INT, "status": _TEXT},
}


class ProtocolError(ValueError):
    """A line that does not follow the protocol; the message says what is wrong."""


def _check(msg: str, fields: dict[str, Any]) -> None:
    spec = MESSAGES.get(msg)
    if spec is None:
        raise ProtocolError(f"unknown message {msg!r}; known: {', '.join(MESSAGES)}")
    missing = sorted(set(spec) - set(fields))
    unknown = sorted(set(fields) - set(spec))
    if missing or unknown:
        said = f"missing {', '.join(missing) or 'nothing'}; unknown {', '.join(unknown) or 'nothing'}"
        raise ProtocolError(f"{msg}: {said}")
    for name, types in spec.items():
        value = fields[name]
        # bool is an int to Python, but never a number or a pid here
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ProtocolError(f"{msg}: {name} {value!r} must be {' or '.join(t.__name__ for t in types)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ProtocolError(f"{msg}: {name} {value!r} must be finite")


def dump(msg: str, **fields: Any) -> str:
    """One line (no newline) saying ``msg`` with ``fields``; ProtocolError if they break ``MESSAGES``."""
    _check(msg, fields)
    return json.dumps({"msg": msg, **fields}, separators=(",", ":"))


def parse(line: str) -> tuple[str, dict[str, Any]]:
    """``(msg, fields)`` of one line; ProtocolError if it is not one of ``MESSAGES``."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("msg"), str):
        raise ProtocolError("not a JSON object with a msg")
    msg = data.pop("msg")
    _check(msg, data)
    return msg, data
