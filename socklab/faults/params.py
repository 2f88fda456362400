"""Each fault's parameters as a frozen dataclass: one field per parameter, with its unit and its bounds.

A field is made with ``param`` (``wire.knobs.option`` plus a unit and bounds), so the same field is the
``socklab fault`` flag (``--jitter-ms``), a scenario's key (``jitter-ms: 20``) and a property of the JSON
Schema (``scenarios/schema.py`` reads ``bounds``); its rule is checked when the dataclass is made.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from socklab.sidecar.protocol import DIRECTIONS
from socklab.wire.knobs import Rule, check_fields

REQUIRED: Any = None  # a parameter with no default: the flag or the scenario key must give it


@dataclass(frozen=True)
class Bounds:
    """What a parameter may be: numbers between ``low`` and ``high`` (``low_open``: above ``low``), or one of
    ``choices``; ``unit`` says what the number counts."""

    unit: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[str, ...] = ()

    def want(self) -> str:
        if self.choices:
            return f"one of {', '.join(self.choices)}"
        low = "" if self.low is None else f"{'above' if self.low_open else 'at least'} {self.low:g}"
        high = "" if self.high is None else f"at most {self.high:g}"
        unit = f" ({self.unit})" if self.unit else ""
        return f"a number {' and '.join(part for part in (low, high) if part)}{unit}"

    def holds(self, value: Any) -> bool:
        if self.choices:
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or value <= self.high


def param(default: Any, help: str, bounds: Bounds, *, metavar: str | None = None) -> Any:  # noqa: A002
    """A parameter field: ``option``'s metadata (help, flag, rule) and its ``bounds``; ``REQUIRED`` for none."""
    rule = Rule(bounds.want(), bounds.holds)
    unit = f" ({bounds.unit})".replace("%", "%%") if bounds.unit else ""  # argparse formats help with %
    metadata = {
        "help": f"{help}{unit}",
        "metavar": metavar,
        "env": None,
        "positional": False,
        "flag": None,
        "rule": rule,
        "bounds": bounds,
        "required": default is REQUIRED,
    }
    return dataclasses.field(default=default, metadata=metadata)


def direction(default: str, choices: tuple[str, ...] = DIRECTIONS) -> Any:
    return param(default, "which traffic: to the target, from it, or both", Bounds(choices=choices))


@dataclass(frozen=True)
class FaultParams:
    """The base: no parameter. Each field's rule runs when it is made; a required one must be given. (A
    command's options inherit a fault's parameters too: ``super().__post_init__`` goes on to theirs.)"""

    def __post_init__(self) -> None:
        parent = getattr(super(), "__post_init__", None)
        if parent is not None:
            parent()
        for field in dataclasses.fields(self):
            if field.metadata.get("required") and getattr(self, field.name) is REQUIRED:
                raise ValueError(f"{field.name.replace('_', '-')} is required ({field.metadata['bounds'].want()})")
        check_fields(self)

    def as_dict(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


PERCENT = Bounds("%", 0, 100, low_open=True)
MS = Bounds("ms", 0, 600_000, low_open=True)
MS_OR_ZERO = Bounds("ms", 0, 600_000)


@dataclass(frozen=True)
class LossParams(FaultParams):
    percent: float = param(REQUIRED, "share of the packets dropped", PERCENT, metavar="P")
    direction: str = direction("both")


@dataclass(frozen=True)
class PartitionParams(FaultParams):
    direction: str = direction("both")


@dataclass(frozen=True)
class RateParams(FaultParams):
    kbit: int = param(REQUIRED, "what the target may send", Bounds("kbit/s", 1, 10_000_000), metavar="K")


@dataclass(frozen=True)
class LatencyParams(FaultParams):
    ms: float = param(REQUIRED, "added delay", MS, metavar="M")
    jitter_ms: float = param(0.0, "± this much at random", MS_OR_ZERO, metavar="J")
    direction: str = direction("from")


@dataclass(frozen=True)
class JitterParams(FaultParams):
    jitter_ms: float = param(REQUIRED, "each chunk waits 0 to twice this, this on average", MS, metavar="J")
    direction: str = direction("from")


@dataclass(frozen=True)
class SlicerParams(FaultParams):
    average_bytes: int = param(REQUIRED, "average size of the pieces each chunk is cut into", Bounds("bytes", 1, 65536))
    variation_bytes: int = param(0, "± this much a piece (below the average)", Bounds("bytes", 0, 65535))
    delay_us: int = param(0, "pause between the pieces", Bounds("µs", 0, 10_000_000))
    direction: str = direction("from")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.variation_bytes >= self.average_bytes:
            raise ValueError(f"variation-bytes {self.variation_bytes} must be below average-bytes {self.average_bytes}")


@dataclass(frozen=True)
class TimeoutParams(FaultParams):
    ms: float = param(0.0, "close the connection after this long (0: hold the data until undone)", MS_OR_ZERO)
    direction: str = direction("from")


@dataclass(frozen=True)
class StopParams(FaultParams):
    grace: int = param(10, "between SIGTERM and SIGKILL", Bounds("s", 0, 3600), metavar="SECONDS")


@dataclass(frozen=True)
class DisconnectParams(FaultParams):
    network: str = dataclasses.field(
        default="",
        metadata={
            "help": "the network to leave (needed when the container is on several; a scenario: the lab's)",
            "metavar": "NET",
            "env": None,
            "positional": False,
            "flag": None,
            "rule": None,
            "bounds": Bounds(),
            "required": False,
        },
    )
