"""The host-agent protocol of the fault sidecar: what the host asks (a spec) and what the agent says (events).

Stdlib only, in the ``sidecar`` package the host copies into the tools container, so both sides import
the same classes. The host passes one spec as JSON in argv (``FaultSpec(...).to_json()``); the agent
prints one event a line (``Applied(...).to_json()``) and the host reads each with ``parse_event``. Both
directions are validated where they are read: a bad spec is one ``failed`` event naming the problem,
never a KeyError, and a malformed line is ``ProtocolError``, never a silent default.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

__all__ = [
    "EVENTS",
    "KINDS",
    "Applied",
    "Clean",
    "Cleaned",
    "Drained",
    "Established",
    "Event",
    "Failed",
    "FaultSpec",
    "ProbeNetem",
    "ProbeResult",
    "ProtocolError",
    "Ready",
    "Spec",
    "TimedOut",
    "Undone",
    "WaitDrained",
    "WaitEstablished",
    "parse_event",
    "parse_spec",
]

KINDS = ("loss", "partition", "reset", "rate", "latency")  # the faults ``rules.plan`` knows
PARAMS: dict[str, tuple[str, ...]] = {  # each kind's parameters; the others must stay unset
    "loss": ("percent", "direction"),
    "partition": ("direction",),
    "reset": (),
    "rate": ("kbit",),
    "latency": ("ms", "jitter_ms"),
}
# Which traffic an iptables fault takes: to the target (INPUT), from it (OUTPUT), or both (the default).
DIRECTIONS = ("to", "from", "both")
FAULT_ID = re.compile(r"[A-Za-z0-9_-]{1,20}")  # it goes into an iptables chain name (28 characters at most)


class ProtocolError(ValueError):
    """A spec or an event that does not follow the protocol; the message says what is wrong."""


def _number(name: str, value: object, *, low: float, high: float = math.inf, low_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProtocolError(f"{name} {value!r} must be a finite number")
    if value < low or (low_open and value == low) or value > high:
        bounds = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise ProtocolError(f"{name} {value!r} must be in {bounds}")


def _whole(name: str, value: object, *, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"{name} {value!r} must be an integer")
    if value < low or (high is not None and value > high):
        raise ProtocolError(f"{name} {value} must be {low}..{high}" if high else f"{name} {value} must be >= {low}")


def _text(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise ProtocolError(f"{name} {value!r} must be a string")


def _texts(name: str, value: object) -> None:
    if not isinstance(value, tuple) or not all(isinstance(item, str) for item in value):
        raise ProtocolError(f"{name} {value!r} must be a list of strings")


def _flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise ProtocolError(f"{name} {value!r} must be true or false")


M = TypeVar("M", bound="_Message")


class _Message:
    """A frozen dataclass that travels as one JSON object; ``tag`` names it (``kind`` or ``event``)."""

    tag_key: ClassVar[str]
    tag: ClassVar[str]
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    def to_json(self) -> str:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items() if v is not None}
        return json.dumps({self.tag_key: self.tag, **values})

    @classmethod
    def from_dict(cls: type[M], data: dict[str, Any]) -> M:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names - {cls.tag_key})
        if unknown:
            raise ProtocolError(f"{cls.tag}: unknown field(s) {', '.join(unknown)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names}
        try:
            return cls(**values)
        except TypeError as exc:  # a required field is missing
            required = [f for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
            missing = sorted(f.name for f in required if f.name not in values)
            raise ProtocolError(f"{cls.tag}: missing field(s) {', '.join(missing)}") from exc


def _load(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"{what} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"{what} must be a JSON object, not {type(data).__name__}")
    return data


# ---- host -> agent: specs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultSpec(_Message):
    """Apply ``kind`` (with its parameters) in this namespace; hold for ``seconds`` or until told."""

    tag_key: ClassVar[str] = "kind"
    tag: ClassVar[str] = "fault"  # the JSON's kind is the fault's own kind
    kind: str
    id: str
    seconds: float | None = None  # None: until the holder says undo or goes away
    percent: float | None = None  # loss: (0, 100]
    kbit: int | None = None  # rate: >= 1
    ms: float | None = None  # latency: > 0
    jitter_ms: float | None = None  # latency: >= 0
    direction: str | None = None  # loss, partition: to | from | both (None: both)
    # Armed: the agent gets ready (interfaces, plan), says ``ready`` and applies (snapshot first) only when the
    # holder writes ``apply`` on stdin, so a fault planned for a moment takes effect at that moment.
    armed: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ProtocolError(f"unknown fault kind {self.kind!r}; known: {', '.join(KINDS)}")
        if not isinstance(self.id, str) or not FAULT_ID.fullmatch(self.id):
            raise ProtocolError(f"fault id {self.id!r} must be 1-20 letters, digits, - or _")
        if self.seconds is not None:
            _number("seconds", self.seconds, low=0)
        takes = PARAMS[self.kind]
        _flag("armed", self.armed)
        for name in ("percent", "kbit", "ms", "jitter_ms", "direction"):
            if getattr(self, name) is not None and name not in takes:
                raise ProtocolError(f"{self.kind} takes no {name} (it takes: {', '.join(takes) or 'nothing'})")
        if self.kind == "loss":
            _number("percent", self.percent, low=0, high=100, low_open=True)
        if self.kind == "rate":
            _whole("kbit", self.kbit, low=1)
        if self.kind == "latency":
            _number("ms", self.ms, low=0, low_open=True)
            if self.jitter_ms is not None:
                _number("jitter_ms", self.jitter_ms, low=0)
        if self.direction is not None and self.direction not in DIRECTIONS:
            raise ProtocolError(f"direction {self.direction!r} must be one of {', '.join(DIRECTIONS)}")

    def to_json(self) -> str:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return json.dumps({k: v for k, v in values.items() if v is not None and v is not False})


@dataclass(frozen=True)
class ProbeNetem(_Message):
    """In a namespace of its own: can this kernel add a netem qdisc?"""

    tag_key: ClassVar[str] = "kind"
    tag: ClassVar[str] = "probe-netem"


@dataclass(frozen=True)
class Clean(_Message):
    """Remove what a crashed fault left in this namespace."""

    tag_key: ClassVar[str] = "kind"
    tag: ClassVar[str] = "clean"


@dataclass(frozen=True)
class WaitEstablished(_Message):
    """Wait until ``count`` TCP connections to local ``port`` are established."""

    tag_key: ClassVar[str] = "kind"
    tag: ClassVar[str] = "wait-established"
    port: int
    count: int
    timeout: float = 30.0

    def __post_init__(self) -> None:
        _whole("port", self.port, low=1, high=65535)
        _whole("count", self.count, low=1)
        _number("timeout", self.timeout, low=0, low_open=True)


@dataclass(frozen=True)
class WaitDrained(_Message):
    """Wait until no TCP socket of local ``port`` holds bytes its peer has not acknowledged: what a server
    wrote is delivered (a retransmission backed off by a fault included) before its namespace may go."""

    tag_key: ClassVar[str] = "kind"
    tag: ClassVar[str] = "wait-drained"
    port: int
    timeout: float = 10.0

    def __post_init__(self) -> None:
        _whole("port", self.port, low=1, high=65535)
        _number("timeout", self.timeout, low=0, low_open=True)


Spec = FaultSpec | ProbeNetem | Clean | WaitEstablished | WaitDrained
TASKS: dict[str, type[ProbeNetem | Clean | WaitEstablished | WaitDrained]] = {
    cls.tag: cls for cls in (ProbeNetem, Clean, WaitEstablished, WaitDrained)
}


def parse_spec(text: str) -> Spec:
    """The spec the host sent; ProtocolError names what is wrong with it."""
    data = _load(text, "the spec")
    kind = data.get("kind")
    if not isinstance(kind, str):
        raise ProtocolError(f"the spec needs a kind (a fault: {', '.join(KINDS)}; or {', '.join(TASKS)})")
    if kind in TASKS:
        return TASKS[kind].from_dict(data)
    return FaultSpec.from_dict(data)


# ---- agent -> host: events ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event(_Message):
    tag_key: ClassVar[str] = "event"
    at: float  # time.time() when the agent said it

    def __post_init__(self) -> None:
        _number("at", self.at, low=0)
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            kind = str(field.type).replace(" ", "")
            check = {"str": _text, "bool": _flag, "tuple[str,...]": _texts}.get(kind)
            if check is not None:
                check(field.name, value)
            elif kind == "int":
                _whole(field.name, value, low=0)
            elif kind == "bool|None" and value is not None:
                _flag(field.name, value)


@dataclass(frozen=True)
class Ready(Event):
    """An armed fault is ready: it applies when the holder writes ``apply``."""

    tag: ClassVar[str] = "ready"
    mechanism: str
    interfaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class Applied(Event):
    tag: ClassVar[str] = "applied"
    mechanism: str
    commands: tuple[str, ...] = ()
    interfaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class Failed(Event):
    """The fault (or the task) did not happen; ``clean`` says whether the namespace is as before (None: not
    known, e.g. a bad spec, nothing was touched)."""

    tag: ClassVar[str] = "failed"
    message: str
    mechanism: str = ""
    clean: bool | None = None
    diff: tuple[str, ...] = ()


@dataclass(frozen=True)
class Undone(Event):
    tag: ClassVar[str] = "undone"
    reason: str
    clean: bool
    diff: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProbeResult(Event):
    tag: ClassVar[str] = "probe"
    netem: bool
    detail: str = ""


@dataclass(frozen=True)
class Cleaned(Event):
    tag: ClassVar[str] = "cleaned"
    commands: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Established(Event):
    tag: ClassVar[str] = "established"
    count: int


@dataclass(frozen=True)
class TimedOut(Event):
    tag: ClassVar[str] = "timeout"
    count: int


@dataclass(frozen=True)
class Drained(Event):
    """Nothing unacknowledged is left on the port (``waited``: seconds it took)."""

    tag: ClassVar[str] = "drained"
    waited: float


EVENTS: dict[str, type[Event]] = {
    cls.tag: cls for cls in (Ready, Applied, Failed, Undone, ProbeResult, Cleaned, Established, TimedOut, Drained)
}


def parse_event(line: str) -> Event:
    """One line the agent printed; ProtocolError when it is not one of EVENTS, whole and well typed."""
    data = _load(line, "the event")
    name = data.get("event")
    if name not in EVENTS:
        raise ProtocolError(f"unknown event {name!r}; known: {', '.join(EVENTS)}")
    return EVENTS[name].from_dict(data)
