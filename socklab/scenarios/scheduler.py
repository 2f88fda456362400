"""Firing timed actions on a monotonic clock against the run's start, from one scheduler thread.

Each action is handed to a worker at its moment, so a slow one (a swap drains for seconds) delays nobody
else; its planned and actual offsets are kept. A late action is reported with both, never shifted: the
actions after it keep their own planned moments. The clock is a parameter (``FakeClock`` in the tests).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

LATE = 0.1  # seconds after its moment an action counts as late (the goal: every step within 100 ms)
WORKERS = 16  # actions that may run at once (faults on several clients, a swap, probes)


class Clock(Protocol):
    def now(self) -> float: ...

    def wait_until(self, moment: float, stop: threading.Event) -> bool:
        """Return True at ``moment``, False as soon as ``stop`` is set."""
        ...


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()

    def wait_until(self, moment: float, stop: threading.Event) -> bool:
        while (left := moment - time.monotonic()) > 0:
            if stop.wait(min(left, 0.5)):
                return False
        return not stop.is_set()


class FakeClock:
    """A clock that jumps to each moment asked of it; an action may ``advance`` it (it "took" that long)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self.t

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds

    def wait_until(self, moment: float, stop: threading.Event) -> bool:
        with self._lock:
            self.t = max(self.t, moment)
        return not stop.is_set()


class InlineExecutor(Executor):
    """Runs each action in the scheduler's own thread: with a ``FakeClock``, a run is deterministic."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - kept in the future, as a pool would
            future.set_exception(exc)
        return future


@dataclass(frozen=True)
class Timed:
    """An action and its planned offset from the start (seconds)."""

    at: float
    name: str
    action: Callable[[], str]  # returns what it did, in words
    tag: object = None  # whatever the caller keeps with it (the scenario's plan entry)


@dataclass
class Fired:
    """What happened to one ``Timed``: its planned and actual offset, when it finished, what it said."""

    timed: Timed
    fired: float | None = None  # offset at which the action began (None: never, the run was stopped)
    finished: float | None = None
    said: str = ""
    error: str = ""

    @property
    def planned(self) -> float:
        return self.timed.at

    @property
    def lateness(self) -> float | None:
        return None if self.fired is None else self.fired - self.timed.at

    @property
    def late(self) -> bool:
        return self.lateness is not None and self.lateness > LATE


@dataclass
class Scheduler:
    clock: Clock = field(default_factory=MonotonicClock)
    executor: Executor | None = None
    on_fired: Callable[[Fired], None] | None = None  # told as each action begins (the live journal, events)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.start: float | None = None
        self.fired: list[Fired] = []
        self._futures: list[Future[object]] = []
        self._own = self.executor is None
        self._pool: Executor = self.executor or ThreadPoolExecutor(WORKERS, thread_name_prefix="socklab-step")
        self._thread: threading.Thread | None = None

    def offset(self) -> float:
        """Seconds since the start now."""
        assert self.start is not None
        return self.clock.now() - self.start

    def _run(self, record: Fired) -> None:
        record.fired = self.offset()
        if self.on_fired is not None:
            self.on_fired(record)
        try:
            record.said = record.timed.action()
        except Exception as exc:  # noqa: BLE001 - a step that fails is reported, the run goes on
            record.error = f"{type(exc).__name__}: {exc}"
        finally:
            record.finished = self.offset()

    def _dispatch(self, items: list[Timed]) -> None:
        assert self.start is not None
        for timed in sorted(items, key=lambda t: t.at):
            record = Fired(timed)
            self.fired.append(record)
            if not self.clock.wait_until(self.start + timed.at, self.stop):
                return
            self._futures.append(self._pool.submit(self._run, record))

    def begin(self, items: list[Timed], *, start: float | None = None) -> None:
        """Start the scheduler thread: each item fires at ``start`` (now by default) plus its offset."""
        self.start = self.clock.now() if start is None else start
        self._thread = threading.Thread(target=self._dispatch, args=(items,), name="socklab-scheduler", daemon=True)
        self._thread.start()

    def run(self, items: list[Timed], *, start: float | None = None) -> list[Fired]:
        """Fire every item, then wait for every action to finish (a test's whole run)."""
        self.begin(items, start=start)
        self.join()
        return self.fired

    def join(self, timeout: float | None = None) -> None:
        """Wait until every item was dispatched and every action finished (or the stop, then those begun)."""
        if self._thread is not None:
            self._thread.join(timeout)
        for future in list(self._futures):
            future.exception(timeout)
        if self._own:
            self._pool.shutdown(wait=False)

    def halt(self) -> None:
        """No further action starts (Ctrl-C, the end): those under way finish."""
        self.stop.set()
