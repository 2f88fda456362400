"""A measured window read from the server's side: its cgroup's CPU time and its kernel's count of
completed connections (``PassiveOpens``), sampled on the host while a loader runs.

This is how a user measures a server with a loader of their own (``docker stats``, the cgroup files, the
kernel's counters), and what ``socklab bench`` reports, so that the two agree: the window is steady state
only (the loader's warm-up and its tail are outside it), and CPU per connection is the server container's
CPU over the connections its kernel completed in the very same interval, whoever the loader is.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from socklab.bench.kernel import Cgroup, tcp_counters

PERIOD = 0.05  # seconds between samples: the window's ends are within this of the loader's


@dataclass(frozen=True)
class Sample:
    at: float  # wall clock (epoch seconds): the loaders report their start the same way
    cpu_seconds: float  # the server container's cgroup, all its processes, user + system
    passive_opens: int  # connections its network namespace completed (3-way handshakes)


@dataclass(frozen=True)
class Window:
    first: Sample
    last: Sample

    @property
    def seconds(self) -> float:
        return self.last.at - self.first.at

    @property
    def connections(self) -> int:
        return self.last.passive_opens - self.first.passive_opens

    @property
    def cpu_seconds(self) -> float:
        return self.last.cpu_seconds - self.first.cpu_seconds

    @property
    def per_second(self) -> float:
        return self.connections / self.seconds if self.seconds > 0 else math.nan

    @property
    def cpu_us_per_connection(self) -> float:
        return self.cpu_seconds / self.connections * 1e6 if self.connections > 0 else math.nan


@dataclass
class Sampler:
    """Samples a server every ``PERIOD`` s on a thread; ``window(start, end)`` picks the inside samples."""

    pid: int
    cgroup: Cgroup
    samples: list[Sample] = field(default_factory=list)

    def take(self) -> Sample:
        opens = tcp_counters(self.pid).get("PassiveOpens", 0)
        return Sample(time.time(), self.cgroup.cpu_seconds(), opens)

    @contextlib.contextmanager
    def running(self) -> Iterator[Sampler]:
        stop = threading.Event()

        def loop() -> None:
            while True:
                with contextlib.suppress(OSError):  # the server may be gone at the very end
                    self.samples.append(self.take())
                if stop.wait(PERIOD):
                    return

        thread = threading.Thread(target=loop, name="bench-sampler", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()

    def window(self, start: float, end: float) -> Window | None:
        """The widest sampled interval inside [start, end] (wall clock), or None if there is none."""
        times = [s.at for s in self.samples]
        first, last = bisect.bisect_left(times, start), bisect.bisect_right(times, end) - 1
        if first >= last:
            return None
        return Window(self.samples[first], self.samples[last])
