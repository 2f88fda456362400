"""A scenario as frozen dataclasses: the lab, the steady-state hypothesis, the method's timed steps.

Built by ``loader.py`` from a validated file; pure data, no Docker. Offsets are seconds from the method's
start (``500ms``, ``3s``, ``1m`` or bare seconds in the file); each step keeps where it was written
(``Where``), so that a later complaint about it can name the file, line and column.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from socklab.faults.params import FaultParams

OFFSET = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)$")
UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0}
MODES = ("one", "all", "fixed-percent")  # how ``target: clients`` picks among the client hosts (Chaos Mesh's)
OVER = ("wave", "run")  # a steady-state check: on the waves before and after, or also over the whole method


def seconds(value: float | int | str) -> float:
    """An offset or a duration: ``500ms``, ``3s``, ``1m`` or a bare number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a time")
    if isinstance(value, int | float):
        number = float(value)
    else:
        match = OFFSET.match(value.strip())
        if match is None:
            raise ValueError(f"{value!r} is not a time: 500ms, 3s, 1m or bare seconds")
        number = float(match[1]) * UNITS[match[2]]
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{value!r} must be a finite time >= 0")
    return number


def spoken(value: float) -> str:
    """Seconds as a scenario would write them: ``500ms``, ``3s``, ``2.5s``."""
    return f"{value * 1000:g}ms" if 0 < value < 1 else f"{value:g}s"


@dataclass(frozen=True)
class Where:
    """Where a thing was written: file, line, column (1-based)."""

    file: str = "<scenario>"
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Tolerance:
    at_least: float | None = None
    at_most: float | None = None

    def holds(self, value: float | None) -> bool:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        if self.at_least is not None and value < self.at_least:
            return False
        return self.at_most is None or value <= self.at_most

    def __str__(self) -> str:
        parts = [f"at-least {self.at_least:g}" if self.at_least is not None else ""]
        parts.append(f"at-most {self.at_most:g}" if self.at_most is not None else "")
        return " and ".join(part for part in parts if part)

    def as_range(self) -> list[float]:
        """Chaos Toolkit's range tolerance: [low, high]."""
        low = self.at_least if self.at_least is not None else -1e18
        return [low, self.at_most if self.at_most is not None else 1e18]


@dataclass(frozen=True)
class Check:
    """A probe and what it must stay within (``over: run``: also over every exchange of the method)."""

    probe: str
    tolerance: Tolerance
    over: str = "wave"
    where: Where = field(default_factory=Where)

    def describe(self) -> str:
        return f"{self.probe} {self.tolerance}"


@dataclass(frozen=True)
class Target:
    """Whom a fault hits: ``server`` (whoever holds the alias at that moment), ``client-N``, or ``clients``
    picked by ``mode`` (one, all, fixed-percent of ``value``)."""

    subject: str = "server"
    mode: str | None = None
    value: float | None = None

    def describe(self) -> str:
        if self.subject != "clients":
            return self.subject
        return f"clients ({self.mode}{f' {self.value:g} %' if self.value is not None else ''})"


@dataclass(frozen=True)
class Clients:
    """A wave of ``count`` hosts making ``exchanges`` exchanges each, or (``exchanges`` None) continuous
    exchanges until the end."""

    count: int
    exchanges: int | None = 1

    @property
    def continuous(self) -> bool:
        return self.exchanges is None


@dataclass(frozen=True)
class Fault:
    name: str
    params: FaultParams
    target: Target = field(default_factory=Target)
    seconds: float | None = None  # ``for``: how long it holds (kill, stop, restart: the downtime)


@dataclass(frozen=True)
class Undo:
    id: str


@dataclass(frozen=True)
class Swap:
    image: str


@dataclass(frozen=True)
class Scale:
    count: int


@dataclass(frozen=True)
class Probe:
    check: Check


@dataclass(frozen=True)
class End:
    pass


Action = Clients | Fault | Undo | Swap | Scale | Probe | End
ACTIONS = ("clients", "fault", "undo", "swap", "scale", "probe", "end")  # a step's one action, by its key


@dataclass(frozen=True)
class Step:
    index: int  # its place in the file's method (0-based)
    at: float
    action: Action
    id: str | None = None
    where: Where = field(default_factory=Where)

    @property
    def kind(self) -> str:
        return type(self.action).__name__.lower()

    def label(self) -> str:
        """A few words for a timeline: the fault's name, the probe's, ``clients``, ``swap``, ``end``."""
        action = self.action
        if isinstance(action, Fault):
            return f"{action.name} on {action.target.subject}"
        if isinstance(action, Probe):
            return f"probe {action.check.probe}"
        if isinstance(action, Undo):
            return f"undo {action.id}"
        return self.kind

    def describe(self) -> str:
        action = self.action
        if isinstance(action, Clients):
            each = "continuous exchanges" if action.continuous else f"{action.exchanges} exchange(s) each"
            return f"clients: {action.count} host(s), {each}"
        if isinstance(action, Fault):
            given = {k.replace("_", "-"): v for k, v in action.params.as_dict().items() if v not in ("", None)}
            params = ", ".join(f"{k} {v:g}" if isinstance(v, int | float) else f"{k} {v}" for k, v in given.items())
            held = f" for {spoken(action.seconds)}" if action.seconds is not None else ""
            return f"fault {action.name} on {action.target.describe()}{f' ({params})' if params else ''}{held}"
        if isinstance(action, Undo):
            return f"undo {action.id}"
        if isinstance(action, Swap):
            return f"swap to {action.image}"
        if isinstance(action, Scale):
            return f"scale to {action.count} client host(s)"
        if isinstance(action, Probe):
            return f"probe {action.check.describe()}"
        return "end"


@dataclass(frozen=True)
class LabSpec:
    servers: tuple[str, ...]  # the scenario runs once per version
    clients: int = 3  # client hosts
    delay: float = 1.0
    client_image: str | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    lab: LabSpec
    method: tuple[Step, ...]
    steady_state: tuple[Check, ...] = ()
    seed: int | None = None
    description: str = ""
    file: str = "<scenario>"

    @property
    def end_at(self) -> float:
        """The ``end`` step's offset, else when the last step (and its ``for``) is over."""
        ends = [step.at for step in self.method if isinstance(step.action, End)]
        if ends:
            return ends[0]
        return max(
            (step.at + (step.action.seconds or 0.0) if isinstance(step.action, Fault) else step.at)
            for step in self.method
        )

    def uses(self, names: tuple[str, ...]) -> bool:
        """Whether a step applies one of these faults."""
        return any(isinstance(step.action, Fault) and step.action.name in names for step in self.method)
