"""A fault is a named, timed, undoable thing that reports what it did (Pumba/Toxiproxy): the record and
the context-manager base every fault shares."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any

from socklab.events import recorder as events
from socklab.events.schema import Kind


class FaultError(RuntimeError):
    """A fault could not be applied."""


class FaultNotUndone(FaultError):
    """After the fault, the target is not back to what it was before: rules, qdiscs or its state differ."""


@dataclass
class FaultRecord:
    """What was applied, to what, by which mechanism, and when (wall-clock seconds)."""

    fault: str  # "loss", "partition", "kill", …
    target: str  # the container's name
    mechanism: str  # e.g. "iptables: statistic random 20 % DROP (sidecar in the target's namespace)"
    params: dict[str, Any] = field(default_factory=dict)
    applied_at: float | None = None
    undone_at: float | None = None
    undone_because: str | None = None  # "its time ran out", "the holder asked", …
    commands: list[str] = field(default_factory=list)
    verified: bool | None = None  # True: the target was checked to be back to how it was before
    detail: str = ""

    @property
    def seconds(self) -> float | None:
        if self.applied_at is None or self.undone_at is None:
            return None
        return self.undone_at - self.applied_at

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": self.seconds}

    def describe(self) -> str:
        params = " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.params.items())
        return f"{self.fault} {self.target}{' ' + params if params else ''} via {self.mechanism}"

    def applied_line(self) -> str:
        return f"applied {self.describe()}"

    def undone_line(self) -> str:
        seconds = f" after {self.seconds:.2f} s" if self.seconds is not None else ""
        check = {True: "; target verified back to its state before", False: "; NOT back to its state before", None: ""}
        why = f" ({self.undone_because})" if self.undone_because else ""
        return f"undone {self.fault} {self.target}{seconds}{why}{check[self.verified]}"


class Fault(ABC):
    """``with fault as record: ...``: applied on entry, undone on exit (also after an error or Ctrl-C).

    A fault with ``seconds`` may also end by itself: ``wait()`` returns when it has.
    """

    name: str = "fault"

    def __init__(self, *, seconds: float | None = None) -> None:
        self.seconds = seconds
        self.record: FaultRecord | None = None

    def prepare(self) -> None:  # noqa: B027 - a hook with nothing to do for most faults
        """Get ready to apply at once (a network fault starts its agent armed); nothing is touched yet."""

    @abstractmethod
    def apply(self) -> FaultRecord:
        """Apply the fault; return its record with ``applied_at`` set."""

    @abstractmethod
    def undo(self) -> None:
        """Undo the fault (if it is not over already), set ``undone_at``, verify; raise FaultNotUndone."""

    def wait(self) -> None:
        """Hold the fault for its ``seconds`` (or until Ctrl-C when there are none)."""
        if self.seconds is None:
            while True:
                time.sleep(3600)
        time.sleep(max(0.0, (self.record.applied_at or time.time()) + self.seconds - time.time()) if self.record else 0)

    def __enter__(self) -> FaultRecord:
        self.record = self.apply()
        record_applied(self.record, self.seconds)
        return self.record

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.undo()
        except BaseException as error:
            if self.record is not None:
                record_undone(self.record, error=str(error))
            raise
        if self.record is not None:
            record_undone(self.record)


def record_applied(record: FaultRecord, seconds: float | None = None) -> None:
    """The run's event log: the fault is on (when a run is being recorded)."""
    until = None if record.applied_at is None or not seconds else record.applied_at + seconds
    spec = {**record.params, "mechanism": record.mechanism}
    events.emit(
        Kind.FAULT_APPLIED,
        "fault",
        t=record.applied_at,
        name=record.fault,
        target=record.target,
        spec=spec,
        until=until,
    )


def record_undone(record: FaultRecord, *, error: str | None = None) -> None:
    """The run's event log: the fault is over, with what it did (and why it could not be undone)."""
    report = record.as_json() | ({"error": error} if error else {})
    events.emit(Kind.FAULT_UNDONE, "fault", t=record.undone_at, name=record.fault, target=record.target, report=report)
