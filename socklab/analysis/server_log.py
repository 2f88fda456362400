"""The server's side of a run: when each connection was accepted and answered, from its log alone.

A client that prints no timings (the C client, a foreign one) still leaves a ``served`` line per request
in the server's log. Read with the engine's timestamps, those lines place every request in time, so a
run can be judged from what the server saw.
"""

from __future__ import annotations

from collections.abc import Iterable

from socklab import wire
from socklab.analysis.verdict import Interval


def served_intervals(log_with_timestamps: str, *, peers: Iterable[str] | None = None) -> list[Interval]:
    """One interval per ``served`` line, accept to answer; only those from ``peers`` (addresses) if given."""
    wanted = set(peers) if peers is not None else None
    intervals = []
    for record in wire.parse_served_log(log_with_timestamps):
        if wanted is not None and record.peer.address not in wanted:
            continue
        span = record.interval()
        if span is not None:
            who = record.peer.name or f"{record.peer.address}:{record.peer.port}"
            intervals.append(Interval(who, *span))
    return intervals
