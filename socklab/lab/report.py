"""A lab run's report: the clients' runs, the server's log, and the verdict on concurrency.

The verdict is judged from the clients' own timings when every client reported them (our client's JSON),
else from the server's log (its ``served`` lines), else it says that it cannot judge — a client that
prints no timings must never make a run look "not concurrent".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from socklab.analysis.server_log import served_intervals
from socklab.analysis.verdict import Interval, Verdict, cannot_judge, judge
from socklab.lab.client_run import ClientRun


@dataclass(frozen=True)
class LabReport:
    server_image: str
    client_image: str
    delay: float
    runs: list[ClientRun]
    verdict: Verdict
    server_log: str
    intervals: tuple[Interval, ...]
    judged_by: str  # "clients", "server log" or "nothing"

    @property
    def ok(self) -> bool:
        """Every client answered right, and the run was concurrent (or could not be judged)."""
        return all(run.ok for run in self.runs) and (self.verdict.concurrent or not self.verdict.judged)

    def as_json(self) -> dict[str, Any]:
        return {
            "server_image": self.server_image,
            "client_image": self.client_image,
            "delay": self.delay,
            "clients": [
                asdict(run.result) | {"name": run.name}
                if run.result
                else {"name": run.name, "exit_code": run.exit_code, "received": run.received}
                for run in self.runs
            ],
            "verdict": {
                "judged_by": self.judged_by,
                "concurrent": self.verdict.concurrent if self.verdict.judged else None,
                "overlap": self.verdict.overlap,
                "slowest": self.verdict.slowest,
                "span": self.verdict.span,
                "reasons": list(self.verdict.reasons),
            },
        }


def judge_run(
    server_image: str, client_image: str, delay: float, runs: Sequence[ClientRun], server_log: str
) -> LabReport:
    """Judge a run from the clients' timings, else from the server's log (read with engine timestamps)."""
    clients = len(runs)
    if runs and all(run.result is not None for run in runs):
        intervals = [run.interval for run in runs if run.interval is not None and run.exit_code == 0]
        verdict, judged_by = judge(intervals, clients=clients, delay=delay), "clients"
    elif intervals := served_intervals(server_log):
        # Clients that print no timings (the C client, a foreign one): the server's view of each request.
        intervals = [_by_role(interval, runs) for interval in intervals]
        verdict, judged_by = judge(intervals, clients=clients, delay=delay), "server log"
    else:
        intervals = []
        verdict = cannot_judge(
            clients,
            delay,
            "the clients printed no timings and the server's log has no `served` lines to read them from",
        )
        judged_by = "nothing"
    return LabReport(server_image, client_image, delay, list(runs), verdict, server_log, tuple(intervals), judged_by)


def _by_role(interval: Interval, runs: Sequence[ClientRun]) -> Interval:
    """A served line's peer, named by the server's reverse lookup (``socklab-<run>-client-5.<network>``), as
    the role of the client container it is (client-5); left as it is when it names none of ``runs``."""
    container = interval.host.split(".", 1)[0]
    role = next((run.role for run in runs if run.role and run.name == container), None)
    return interval if role is None else replace(interval, host=role)
