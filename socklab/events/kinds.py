"""The event log's kinds, each with its fields: the one description the recorder, the readers and the docs use.

    SPECS[Kind.SERVED].fields      # each Field: name, type, required or not, what it means
    problems(Kind.SERVED, data)    # what is wrong with an event's data ([] when nothing)

A writer must give every required field, each of its type, and no field the kind does not declare
(``Recorder.emit`` raises ``InvalidEvent``, naming the kind and the field: a programming error). A reader
(``Event.from_line``) needs the required fields of their types and ignores fields it does not know, so a log
written by a newer socklab still replays. A type is a JSON type: ``str``, ``int``, ``number`` (int or float,
finite), ``bool``, ``list``, ``dict`` or ``any``, joined by ``|``; ``null`` allows None. docs/events.md's
table of fields is made from this (``python -m socklab.events.docs``); a test fails when they differ.

A new kind: a member of ``Kind`` and its ``Spec`` here (a test fails for a kind without one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What happened. The value is what the log line spells."""

    RUN_STARTED = "run.started"
    HOST = "host"
    CONTAINER_STARTED = "container.started"
    CONTAINER_STOPPED = "container.stopped"
    CONNECTED = "connected"
    ACCEPTED = "accepted"
    SERVED = "served"
    ANSWERED = "answered"
    FAILED = "failed"
    FAULT_APPLIED = "fault.applied"
    FAULT_UNDONE = "fault.undone"
    MEASUREMENT = "measurement"
    PACKET = "packet"
    SOCKET = "socket"
    SYSCALL = "syscall"
    STEP = "step"
    PROBE = "probe"
    VERDICT = "verdict"
    RUN_FINISHED = "run.finished"


class InvalidEvent(TypeError):
    """An event a writer made wrong: a required field missing, a field of the wrong type, an unknown one."""


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


_TYPES: dict[str, Any] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": _number,
    "bool": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, list | tuple),
    "dict": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
    "any": lambda v: True,
}


@dataclass(frozen=True)
class Field:
    """One field of a kind's ``data``: its name, its type (``"str|null"``), whether every event has it."""

    name: str
    type: str
    doc: str
    required: bool = True

    def __post_init__(self) -> None:
        unknown = [t for t in self.type.split("|") if t not in _TYPES]
        if unknown:
            raise ValueError(f"field {self.name}: unknown type(s) {unknown}")

    def accepts(self, value: Any) -> bool:
        return any(_TYPES[t](value) for t in self.type.split("|"))


def need(name: str, kind: str, doc: str) -> Field:
    """A field every event of its kind has; ``kind``: its type (``"str|null"``)."""
    return Field(name, kind, doc, required=True)


def may(name: str, kind: str, doc: str) -> Field:
    """A field some events of its kind have."""
    return Field(name, kind, doc, required=False)


@dataclass(frozen=True)
class Spec:
    """A kind: what one event of it says (``doc``), its host (``host``) and its fields."""

    doc: str
    host: str
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


def spec(doc: str, host: str, *fields: Field) -> Spec:
    return Spec(doc, host, fields)


_ADDRESS = "ip:port"
_CLIENT_RESULT = (  # what the client's result line adds to connected/answered/failed (wire/result.py)
    may("address", "str|null", f"the client's own {_ADDRESS} (the server's `peer`); null over unix"),
    may("attempts", "int", "connection attempts, over every retry"),
    may("outcome", "str", '"ok" or the failure\'s name (no-connection, timeout, closed, wrong-answer)'),
    may("sent", "int", "the byte sent"),
    may("connected_at", "number|null", "POSIX time the client was connected"),
)

SPECS: dict[Kind, Spec] = {
    Kind.RUN_STARTED: spec(
        "a recorded command began",
        '`""` (the run as a whole)',
        need("command", "str", "the command (`run`, `faults`…)"),
        need("args", "dict", "its options"),
        need("title", "str", "what the page and the report call it"),
    ),
    Kind.HOST: spec(
        "what is known of a host: sent when it is up, again when it says more (its version)",
        "the role",
        need("role", "str", "the host's role (`server`, `client-3`)"),
        may("address", "str|null", "its IP on the lab network (or ip:port)"),
        may("image", "str", "its image"),
        may(
            "version",
            "str",
            "the server's start line (`0.1.0 (tcp, model fork, backlog 5, delay 5 s)`) or the client image",
        ),
        may("network", "str|null", "the lab network's name"),
        may("started", "bool", "sent by the Lab as the container started"),
        may("port", "int", "a server's port"),
        may("delay", "number", "a server's delay in seconds"),
    ),
    Kind.CONTAINER_STARTED: spec(
        "the engine started (or unpaused) a container",
        "the role",
        need("role", "str", "the container's role"),
        need("image", "str", "its image"),
        may("state", "str", "`unpause` when it was unpaused, not started"),
    ),
    Kind.CONTAINER_STOPPED: spec(
        "a container exited (or was paused)",
        "the role",
        need("role", "str", "the container's role"),
        may("exit_code", "int|null", "its exit code; absent when paused"),
        may("image", "str", "its image (a pause)"),
        may("state", "str", "`pause` when it was paused, not stopped"),
    ),
    Kind.CONNECTED: spec(
        "client side: the client has its connection",
        "the client",
        need("peer", "str|null", f"the server's {_ADDRESS} as connected (or the socket path)"),
        *_CLIENT_RESULT[:1],
    ),
    Kind.ACCEPTED: spec(
        "server side: the server's `accepted` line",
        "the server",
        need("peer", "str", f"the client's {_ADDRESS}"),
        need("version", "str", "the server's image or start line"),
        may("probe", "bool", "socklab's own readiness check (from the network's gateway), no client"),
    ),
    Kind.SERVED: spec(
        "server side: the server's `served` line, at the time the answer went out",
        "the server",
        need("peer", "str", f"the client's {_ADDRESS}"),
        need("request", "int", "the byte read"),
        need("reply", "int", "the byte written"),
        need("seconds", "number", "accept (or arrival) to answer"),
        need("version", "str", "the server's image or start line"),
        may("name", "str", "the peer's reverse-DNS name"),
        may("accepted_at", "number", "POSIX time the request began"),
        may("probe", "bool", "socklab's own readiness check"),
    ),
    Kind.ANSWERED: spec(
        "client side: the answer came back",
        "the client",
        need("reply", "int|null", "the byte received"),
        need("seconds", "number|null", "connected to answer"),
        need("ok", "bool", "the byte is the one sent plus one"),
        *_CLIENT_RESULT,
    ),
    Kind.FAILED: spec(
        "client side: the exchange failed",
        "the client",
        need("error", "str", "one line"),
        need("seconds", "number|null", "how long it tried"),
        *_CLIENT_RESULT,
    ),
    Kind.FAULT_APPLIED: spec(
        "a fault is on",
        "`fault`",
        need("name", "str", "the fault (`partition`, `loss`…)"),
        need("target", "str", "the container it is on"),
        need("spec", "dict", "its parameters and `mechanism`"),
        need("until", "number|null", "POSIX time it is due to end"),
    ),
    Kind.FAULT_UNDONE: spec(
        "a fault is over",
        "`fault`",
        need("name", "str", "the fault"),
        need("target", "str", "the container it was on"),
        need("report", "dict", "what it did (`verified`, `undone_because`, `error`…)"),
    ),
    Kind.MEASUREMENT: spec(
        "one measured row (the bench's steps, the faults suite's losses)",
        "`bench`, `fault`",
        need("name", "str", "`bench.rates`, `bench.latency`, `faults.lost`…"),
        need("value", "number|null", "the value (null: not measured)"),
        need("unit", "str", "its unit"),
        may("labels", "dict", "the row's other columns"),
    ),
    Kind.PACKET: spec(
        "one TCP segment, at its capture time",
        "the host it was captured in (`trace` in older logs)",
        need("src", "str", f"sender {_ADDRESS}"),
        need("dst", "str", f"receiver {_ADDRESS}"),
        need(
            "flags", "str|list", "as tcpdump's letters: `S`, `SA`, `A`, `PA`, `FA`, `R` (older logs: a list of names)"
        ),
        need("seq", "int", "sequence number, relative to the sender's first"),
        need("ack", "int", "acknowledgement number, relative (0 without ACK)"),
        need("length", "int", "payload bytes"),
        may("label", "str", "what the lesson calls it: `SYN`, `SYN-ACK`, `'A'`, `FIN`…"),
        may("retransmission", "bool", "it repeats a segment already sent"),
        may("payload", "list", "up to 64 bytes, as ints"),
        may("conn", "str", "one id per connection, the same from both ends (`client>server`)"),
        may("outgoing", "bool", "`--kernel`: it left the host it was captured in"),
        may("probe", "bool", "`--kernel`: socklab's own (its readiness check, a health check), not the lesson's"),
        may("time", "number", "seconds since the capture's first segment (`socklab trace`)"),
        may("client", "dict", "`socklab trace`: the client's `name` and `address`"),
        may("server", "dict", "`socklab trace`: the server's `name` and `address`"),
    ),
    Kind.SOCKET: spec(
        "a socket changed in the host's network namespace (one event per change; `GONE` when it vanished)",
        "the host whose namespace holds it",
        need("key", "str", "stable id in that namespace: `0.0.0.0:9736` (a listener), `local>peer` (a connection)"),
        need("local", "str", f"its local {_ADDRESS}"),
        need("peer", "str|null", f"its peer's {_ADDRESS} (`*:*` or null for a listener)"),
        need(
            "state",
            "str",
            "LISTEN, SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE_WAIT, "
            "LAST_ACK, CLOSING, CLOSE or GONE",
        ),
        need("recv_q", "int|null", "receive queue; for a listener the accept queue's length"),
        need("send_q", "int|null", "send queue"),
        need("backlog", "int|null", "a listener's limit (it holds backlog + 1), else null"),
        need("rtt_ms", "number|null", "smoothed round trip (established), else null"),
        need("cwnd", "int|null", "congestion window in segments (established), else null"),
        need("retrans", "int|null", "retransmitted segments (established), else null"),
        may("conn", "str|null", "the connection as packets name it (`client>server`); null for a listener"),
        may("probe", "bool", "socklab's own (its readiness check, loopback), not the lesson's"),
    ),
    Kind.SYSCALL: spec(
        "a traced system call of a server process, at the time it started",
        "the server",
        need("pid", "int", "the process"),
        need(
            "call",
            "str",
            "`accept4`, `clone`, `read`, `clock_nanosleep`…; `attached`: the tracer attached; `exit`: the process "
            "ended (`result` says how)",
        ),
        need("args", "str|null", "its arguments, short"),
        need("result", "str|null", "what it returned (null: it never returned)"),
        need("seconds", "number|null", "how long it took, blocked included (null: not returned yet, or never)"),
        may("from_start", "bool", "`attached` only: traced from the process's first call (else attached late)"),
        may("pids", "list", "`attached` only: the processes it attached to"),
        may("done", "bool", "false: the call was made and has not returned yet (the same call comes again, done)"),
        may("fd", "int|null", "the descriptor it is about"),
        may("socket", "str|null", "the connection it is about, as the socket events key it (`local>peer`)"),
        may("conn", "str|null", "that connection as packets name it (`client>server`)"),
    ),
    Kind.STEP: spec(
        "a scenario's step fired (socklab scenario run)",
        "`scenario`",
        need("name", "str", "the step as the journal names it (`cut fault`, `method[3] swap`)"),
        need("action", "str", "the step in words"),
        need("planned", "number", "its offset from the method's start, seconds"),
        need("fired", "number|null", "when its action began, same clock"),
        need("late", "bool", "it fired more than 100 ms after its offset (never shifted: reported)"),
        need("targets", "list", "the containers it acted on"),
        may("label", "str", "a short label for the timeline (`partition server`)"),
        may("kind", "str", "`fire`, or `undo` (a fault's end)"),
    ),
    Kind.PROBE: spec(
        "a scenario's probe judged (the steady-state hypothesis, or a probe step)",
        "`scenario`",
        need("phase", "str", "`before`, `after`, `run`, or the moment of a probe step (`method at 11s`)"),
        need("probe", "str", "the probe's name (`answered`, `lost`, `latency-p99`…)"),
        need("value", "number|null", "what it measured (null: nothing to measure)"),
        need("tolerance", "str", "what it had to be (`at-least 1`)"),
        need("ok", "bool", "it held"),
        need("detail", "str", "what it counted"),
        may("server", "str", "the server version judged"),
    ),
    Kind.VERDICT: spec(
        "what a command, a lab or an experiment concluded",
        '`""` (the run as a whole)',
        need("ok", "bool", "whether it holds"),
        need("text", "str", "one line"),
        need("details", "list", "the reasons, one line each"),
        may("judged_by", "str", "`clients`, `server log` or `nothing`"),
        may("server", "str", "the server image judged"),
        may("delay", "number", "the server's delay"),
        may("clients", "int", "how many clients ran"),
        may("lab", "str", "which lab of the run (`` for the first)"),
        may("experiment", "str", "the experiment's name"),
        may("from_exit_code", "bool", "made by the command wrapper from the exit code alone"),
    ),
    Kind.RUN_FINISHED: spec(
        "the recorded command ended",
        '`""` (the run as a whole)',
        need("exit_code", "int", "its exit code"),
    ),
}


def problems(kind: Kind, data: dict[str, Any], *, strict: bool = True) -> list[str]:
    """What is wrong with ``data`` for ``kind`` ([] when nothing); ``strict``: an unknown field is wrong too."""
    declared = SPECS[kind]
    found = []
    for f in declared.fields:
        if f.name not in data:
            if f.required:
                found.append(f"field {f.name!r} is missing")
        elif not f.accepts(data[f.name]):
            found.append(f"field {f.name!r} must be {f.type}, got {data[f.name]!r:.80}")
    if strict:
        found += [f"field {name!r} is not one of its fields" for name in data if declared.field(name) is None]
    return found


def check(kind: Kind, data: dict[str, Any]) -> None:
    """Raise ``InvalidEvent`` when ``data`` is not an event of ``kind`` as a writer must make it."""
    found = problems(kind, data)
    if found:
        raise InvalidEvent(f"event {kind.value!r}: " + "; ".join(found))
