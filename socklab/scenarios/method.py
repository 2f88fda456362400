"""A scenario's method on a running lab: each plan entry made ready ahead of its moment, fired at it by the
scheduler, and recorded (planned, fired, in effect); the run's end when the ``end`` step fires.

What can be readied is readied ``LEAD`` seconds before (client containers at their start barrier, a network
fault's agent armed), so that firing is a signal: the step takes effect at its moment, not a container's
start later. A step readied late (its lead was shorter than the start took) still fires, late, and says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from socklab.checks.swap import swap_server
from socklab.events.schema import Kind
from socklab.faults.catalog import FAULTS
from socklab.lab.lab import Lab
from socklab.lab.topology import SERVER, UPSTREAM
from socklab.scenarios import model
from socklab.scenarios.book import FaultBook
from socklab.scenarios.checks import continuous_hosts, fault_windows
from socklab.scenarios.hosts import Batch, ClientHosts
from socklab.scenarios.journal import ProbeRecord, StepRecord
from socklab.scenarios.plan import Entry, Plan
from socklab.scenarios.probes import ServerSide, measure
from socklab.scenarios.scheduler import Clock, Fired, MonotonicClock, Scheduler, Timed

LEAD = 3.0  # seconds ahead of its moment a step is made ready
RESTART = 0.5  # after a kill's, stop's or restart's end: the server is started again, in a new namespace
READY_WAIT = 60.0  # how long a step waits for what was being made ready for it


@dataclass
class Ready:
    """What a step's preparation made (a batch, faults), once it is done."""

    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: str = ""


class Method:
    def __init__(
        self,
        scenario: model.Scenario,
        plan: Plan,
        *,
        lab: Lab,
        hosts: ClientHosts,
        book: FaultBook,
        server: ServerSide,
        proxy_in_path: bool,
        on_probe: Callable[[ProbeRecord], None],
        clock: Clock | None = None,
    ) -> None:
        self.scenario, self.plan, self.lab, self.hosts, self.book = scenario, plan, lab, hosts, book
        self.server = server
        self.alias = UPSTREAM if proxy_in_path else SERVER
        self.on_probe = on_probe
        self.clock = clock or MonotonicClock()
        self.records = {self._key(e): self._record(e) for e in plan.entries}
        self.ready: dict[tuple[int, str], Ready] = {}
        # Each fault step's fire, done: its undo (its `for`, an `undo` step) waits for it, never racing it.
        self.fired_done = {s.index: threading.Event() for s in scenario.method if isinstance(s.action, model.Fault)}
        self.batches: list[Batch] = []
        self.ended = threading.Event()
        self.wall_start = 0.0
        self.scheduler = Scheduler(self.clock, on_fired=self._fired)
        by_index = {step.index: step for step in scenario.method}
        self.downtimes = [  # when the server is down: (from, to) of each kill, stop, restart on it
            window
            for index, window in fault_windows(scenario).items()
            if isinstance(fault := by_index[index].action, model.Fault)
            and FAULTS[fault.name].downtime
            and fault.target.subject == "server"
        ]

    # --- records -------------------------------------------------------------------------------------------
    @staticmethod
    def _key(entry: Entry) -> tuple[int, str]:
        return entry.step.index, entry.kind

    @staticmethod
    def _record(entry: Entry) -> StepRecord:
        what = entry.step.describe() if entry.kind == "fire" else f"{entry.step.describe()}: its time ran out"
        return StepRecord(entry.name, entry.step.index, entry.kind, what, entry.at, targets=list(entry.targets),
                          seeded=entry.seeded)  # fmt: skip

    def _fired(self, fired: Fired) -> None:
        entry = fired.timed.tag
        if not isinstance(entry, Entry):
            return
        record = self.records[self._key(entry)]
        record.fired = fired.fired
        self.lab.emit(
            Kind.STEP,
            "scenario",
            name=record.name,
            action=record.action,
            label=entry.step.label(),
            kind=record.kind,
            planned=record.planned,
            fired=record.fired,
            late=record.late,
            targets=record.targets,
        )

    def _offset(self, posix: float | None) -> float | None:
        return None if posix is None else posix - self.wall_start

    # --- preparing -----------------------------------------------------------------------------------------
    def _needs_ready(self, entry: Entry) -> bool:
        action = entry.step.action
        if entry.kind != "fire":
            return False
        if isinstance(action, model.Scale):
            return bool(continuous_hosts(self.scenario, entry.step)) and action.count > len(
                continuous_hosts(self.scenario, entry.step)
            )
        return isinstance(action, model.Clients | model.Fault)

    def _prepare(self, entry: Entry) -> str:
        ready = self.ready.setdefault(self._key(entry), Ready())
        action = entry.step.action
        try:
            if isinstance(action, model.Clients):
                hosts = [int(t.split("-")[1]) for t in entry.targets]
                ready.value = self.hosts.prepare(hosts, exchanges=action.exchanges, label=entry.name)
            elif isinstance(action, model.Scale):
                running = continuous_hosts(self.scenario, entry.step)
                new = list(range(len(running) + 1, action.count + 1))
                ready.value = self.hosts.prepare(new, exchanges=None, label=entry.name)
            elif isinstance(action, model.Fault):
                ready.value = self.book.prepare(entry.step, entry.targets)
        except Exception as exc:  # noqa: BLE001 - the step says it when it fires
            ready.error = f"{type(exc).__name__}: {exc}"
        finally:
            # Made ready before the start (the lead reached back past it): ready at 0.
            started = self.scheduler.start is not None
            self.records[self._key(entry)].ready = self.scheduler.offset() if started else 0.0
            ready.done.set()
        return f"ready: {entry.name}"

    def _ready(self, entry: Entry) -> Any:
        ready = self.ready.get(self._key(entry))
        if ready is None:
            return None
        if not ready.done.wait(READY_WAIT):
            raise TimeoutError(f"{entry.name}: not ready after {READY_WAIT:g} s")
        if ready.error:
            raise RuntimeError(f"could not be made ready: {ready.error}")
        return ready.value

    # --- firing --------------------------------------------------------------------------------------------
    def _fire(self, entry: Entry) -> str:
        record = self.records[self._key(entry)]
        try:
            said = self._act(entry, record)
        except Exception as exc:  # noqa: BLE001 - a failed step is the journal's, and fails the run
            record.error = f"{type(exc).__name__}: {exc}"
            return record.error
        finally:
            if entry.kind == "fire" and entry.step.index in self.fired_done:
                self.fired_done[entry.step.index].set()
        record.said += said
        return "; ".join(said)

    def _undo(self, step: model.Step, reason: str) -> list[str]:
        """Undo a fault step, once its fire is over (it may still be applying to its last target)."""
        if not self.fired_done[step.index].wait(READY_WAIT):
            raise TimeoutError(f"{step.id or step.index}: still being applied after {READY_WAIT:g} s")
        return self.book.undo(step, reason)

    def _act(self, entry: Entry, record: StepRecord) -> list[str]:
        action = entry.step.action
        if entry.kind == "undo":
            return self._undo(entry.step, "its time ran out")
        if isinstance(action, model.Clients | model.Scale) and self._needs_ready(entry):
            batch: Batch = self._ready(entry)
            record.effective = self._offset(self.hosts.release(batch))
            self.batches.append(batch)
            return [f"let go {', '.join(f'client-{h}' for h in batch.hosts)}"]
        if isinstance(action, model.Scale):
            stopped = self.hosts.stop([h for h in range(action.count + 1, 51)])
            return [f"stopped {', '.join(stopped)}" if stopped else f"{action.count} client hosts from now on"]
        if isinstance(action, model.Fault):
            said = self.book.apply(self._ready(entry) or self.book.prepare(entry.step, entry.targets))
            applied = [h.applied_at for h in self.book.held if h.step.index == entry.step.index and h.applied_at]
            record.effective = self._offset(min(applied)) if applied else None
            errors = [h.error for h in self.book.held if h.step.index == entry.step.index and h.error]
            if not applied:
                raise RuntimeError("; ".join(errors) or "applied to nobody")
            return said
        if isinstance(action, model.Undo):
            step = next(s for s in self.scenario.method if s.id == action.id)
            return self._undo(step, f"undo {action.id}")
        if isinstance(action, model.Swap):
            swapped = swap_server(self.lab, action.image, alias=self.alias)
            record.effective = self._offset(swapped.ready_at)
            return [swapped.describe(action.image)]
        if isinstance(action, model.Probe):
            window = self.hosts.window(self.batches)
            value = measure(action.check.probe, window, self.server)
            probe = ProbeRecord(f"method at {model.spoken(entry.at)}", action.check, value.value, value.detail)
            self.on_probe(probe)
            return [probe.verdict()]
        self.ended.set()
        return ["the method ends"]

    # --- the run -------------------------------------------------------------------------------------------
    def run(self) -> list[StepRecord]:
        """Make ready what is due before the start, start, fire every entry, return at the end."""
        early: list[Timed] = []
        later: list[Timed] = []
        for entry in self.plan.entries:
            if self._needs_ready(entry):
                prepare = Timed(self._ready_at(entry), f"ready {entry.name}", self._preparing(entry))
                (early if prepare.at < 0 else later).append(prepare)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda timed: timed.action(), early))
        items = [Timed(e.at, e.name, self._firing(e), e) for e in self.plan.entries]
        if not any(isinstance(e.step.action, model.End) for e in self.plan.entries):
            items.append(Timed(self.plan.end_at, "end", self._end))
        self.wall_start = time.time()
        self.scheduler.begin(items + later, start=self.clock.now())
        try:
            while not self.ended.wait(0.5):
                pass
        finally:
            self.scheduler.halt()
            self.scheduler.join(timeout=60)
        return [self.records[self._key(e)] for e in self.plan.entries]

    def _ready_at(self, entry: Entry) -> float:
        """``LEAD`` before its moment, but not before an earlier batch on one of its hosts has fired (the
        hosts are made ready as soon as that batch frees them: ``ClientHosts.prepare`` waits for it), nor
        while the server is down under kill, stop or restart (it comes back in a new network namespace)."""
        moment = entry.at - LEAD
        if isinstance(entry.step.action, model.Fault) and "server" in entry.targets:
            for begin, end in self.downtimes:  # after its start again (0.5 s: the start itself), never later than due
                if begin < entry.at and end > moment:
                    moment = max(moment, min(end + RESTART, entry.at))
        if isinstance(entry.step.action, model.Clients):
            for other in self.plan.fires():
                if (
                    other.at < entry.at
                    and set(other.targets) & set(entry.targets)
                    and isinstance(other.step.action, model.Clients)
                ):
                    moment = max(moment, other.at)
        return moment

    def _preparing(self, entry: Entry) -> Callable[[], str]:
        return lambda: self._prepare(entry)

    def _firing(self, entry: Entry) -> Callable[[], str]:
        return lambda: self._fire(entry)

    def _end(self) -> str:
        self.ended.set()
        return "the method ends"

    def halt(self) -> None:
        self.scheduler.halt()
        self.ended.set()
