"""The recorder: every event of a run, as it happens, to a JSON-lines file and to in-process listeners.

    with Recorder("run.jsonl", command="run") as recorder:
        ...                       # the Lab, the faults, the bench call ``emit(...)``; nothing else to do
    recorder.events               # every event, in the order they were emitted

One recorder is *active* at a time (the innermost ``with``); ``emit`` anywhere in the process (any thread)
goes to it and is a no-op when none is. Each line is written and flushed on its own, so another process
(the live view, ``tail -f``) reads every event as soon as it exists. A listener that raises is dropped
with a warning: watching a run must never break it.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from socklab.events.schema import Event, Kind, check
from socklab.lab.labels import new_run_id

Listener = Callable[[Event], None]

_active: list[Recorder] = []  # a stack: the innermost recorder receives the events
_active_lock = threading.Lock()


class Recorder:
    """Writes each event as one flushed JSON line to ``path`` (when given) and hands it to ``listeners``."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        run: str | None = None,
        listeners: Iterable[Listener] = (),
        keep: bool = True,
        kernel: bool = False,
    ) -> None:
        """``run``: the id every event carries (a new one by default); ``keep``: hold the events in memory
        too (``events``), which the report at the end of a command reads; ``kernel``: the labs made while it
        records observe the kernel too (``--kernel``: socket, packet and syscall events)."""
        self.path = None if path is None else Path(path)
        self.run = run or new_run_id()
        self.listeners: list[Listener] = list(listeners)
        self.keep = keep
        self.kernel = kernel
        self.events: list[Event] = []
        self._file: IO[str] | None = None
        self._lock = threading.Lock()
        self._labs: dict[str, int] = {}  # a lab's run id -> its number in this recording (1, 2, …)

    # --- life cycle ---------------------------------------------------------------------------------
    def __enter__(self) -> Recorder:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("w", encoding="utf-8")
        with _active_lock:
            _active.append(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        with _active_lock:
            if self in _active:
                _active.remove(self)
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    # --- events -------------------------------------------------------------------------------------
    def emit(self, kind: Kind, host: str = "", /, *, t: float | None = None, **data: Any) -> Event:
        """Record one event now (``t``: when it happened, POSIX seconds; the host's clock by default).

        Raises ``InvalidEvent`` when ``data`` is not what ``kinds.SPECS`` says the kind holds."""
        event = Event(kind=Kind(kind), t=time.time() if t is None else t, run=self.run, host=host, data=data)
        self.record(event)
        return event

    def record(self, event: Event) -> None:
        """Write an event made elsewhere (a replayed log) and hand it to the listeners; ``InvalidEvent`` as
        ``emit``: nothing is written that the readers would refuse."""
        check(event.kind, event.data)
        line = event.to_line()
        with self._lock:
            if self._file is not None:
                self._file.write(line + "\n")
                self._file.flush()
            if self.keep:
                self.events.append(event)
            listeners = list(self.listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception as exc:  # noqa: BLE001 - a broken watcher must not break the run
                with self._lock:
                    if listener in self.listeners:
                        self.listeners.remove(listener)
                warnings.warn(
                    f"event listener {listener!r} failed and was removed: {exc}", RuntimeWarning, stacklevel=2
                )

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self.listeners.append(listener)

    def lab_prefix(self, lab_run: str) -> str:
        """How hosts of the lab ``lab_run`` are named in this log: plain for the first lab, ``lab2/`` after.

        A command that makes several labs (``faults``, ``run`` with several servers) has several
        ``server``s and ``client-1``s; the prefix keeps them apart.
        """
        with self._lock:
            number = self._labs.setdefault(lab_run, len(self._labs) + 1)
        return "" if number == 1 else f"lab{number}/"


def active() -> Recorder | None:
    """The recorder events go to now, or None."""
    with _active_lock:
        return _active[-1] if _active else None


def emit(kind: Kind, host: str = "", /, *, t: float | None = None, **data: Any) -> Event | None:
    """Record an event with the active recorder; nothing (None) when no run is being recorded."""
    recorder = active()
    return None if recorder is None else recorder.emit(kind, host, t=t, **data)


def recording() -> bool:
    return active() is not None
