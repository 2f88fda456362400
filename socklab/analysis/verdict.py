"""What a lab run means: pure functions over the clients' results, no Docker here.

A server serves N clients concurrently when each client's own connect-to-answer time stays close to the
delay D and their waiting intervals overlap. A serial server, or one with a bounded pool (socketserver's
ForkingTCPServer stops at 40 live children), makes late clients wait several D instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

TOLERANCE = 1.0  # seconds a client may wait beyond D: fork/thread start-up, scheduling on 2 cores


def late_after(delay: float, tolerance: float = TOLERANCE) -> float:
    """How long a client may wait before it counts as having waited for another client's turn.

    A second turn costs a whole delay more (2 D), so the line is halfway there, D + D/2, and never closer to D
    than ``tolerance``: start-up and scheduling slack, which grows with the load (50 containers on 2 cores
    have held a concurrent server's answer 1.1 s past D) but never reaches another D.
    """
    return delay + max(tolerance, delay / 2)


@dataclass(frozen=True)
class Interval:
    host: str
    start: float  # wall clock when the client was connected
    end: float  # wall clock when its answer arrived


def max_overlap(intervals: Sequence[Interval]) -> int:
    """The largest number of intervals open at one moment (a sweep over their ends)."""
    events = sorted([(i.start, 1) for i in intervals] + [(i.end, -1) for i in intervals])
    # At equal times ends sort before starts (-1 < 1): touching intervals do not count as overlapping.
    open_now = best = 0
    for _time, step in events:
        open_now += step
        best = max(best, open_now)
    return best


@dataclass(frozen=True)
class Verdict:
    clients: int
    answered: int
    delay: float
    slowest: float | None  # the longest connect-to-answer time
    overlap: int  # the most clients waiting at one moment
    span: float | None  # first connect to last answer
    concurrent: bool
    reasons: tuple[str, ...]
    judged: bool = True  # False: nothing reported when the clients were connected and answered

    def summary(self) -> str:
        if not self.judged:
            return "cannot judge concurrency: " + "; ".join(self.reasons)
        if self.concurrent:
            return (
                f"served concurrently: {self.answered}/{self.clients} answered, up to {self.overlap} waiting at "
                f"once, slowest {self.slowest:.2f} s with delay {self.delay:g} s "
                f"(serially it would take {self.clients * self.delay:g} s)"
            )
        return "NOT served concurrently: " + "; ".join(self.reasons)


def judge(intervals: Sequence[Interval], *, clients: int, delay: float, tolerance: float = TOLERANCE) -> Verdict:
    """Decide whether ``clients`` clients, of which ``intervals`` were answered, were served at once."""
    reasons: list[str] = []
    answered = len(intervals)
    if answered < clients:
        reasons.append(f"only {answered} of {clients} clients were answered")
    waits = [i.end - i.start for i in intervals]
    slowest = max(waits) if waits else None
    limit = late_after(delay, tolerance)
    late = [(i.host, w) for i, w in zip(intervals, waits, strict=True) if w > limit]
    if late:
        worst_host, worst = max(late, key=lambda item: item[1])
        reasons.append(
            f"{len(late)} client(s) waited longer than {limit:g} s, halfway to a second turn of delay {delay:g} s "
            f"(worst: {worst_host} {worst:.2f} s)"
        )
    overlap = max_overlap(intervals)
    needed = math.ceil(clients / 2)
    if clients >= 2 and overlap < needed:
        reasons.append(f"at most {overlap} of {clients} clients were waiting at one moment (needed {needed})")
    span = (max(i.end for i in intervals) - min(i.start for i in intervals)) if intervals else None
    return Verdict(clients, answered, delay, slowest, overlap, span, not reasons, tuple(reasons))


def cannot_judge(clients: int, delay: float, why: str) -> Verdict:
    """The verdict when no timings exist: neither "concurrent" nor "not concurrent"."""
    return Verdict(clients, 0, delay, None, 0, None, False, (why,), judged=False)
