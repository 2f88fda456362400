"""The lesson's run: one lab, N clients at once, the run judged (``socklab run``'s library call)."""

from __future__ import annotations

from socklab.events.schema import Kind
from socklab.lab.lab import Lab
from socklab.lab.report import LabReport, judge_run
from socklab.progress import Progress, quiet

__all__ = ["run_lab"]


def run_lab(
    *,
    clients: int,
    server_image: str,
    client_image: str,
    delay: float = 5.0,
    progress: Progress = quiet,
) -> LabReport:
    """Start a lab, run ``clients`` clients at once, judge the run, remove everything."""
    with Lab(server_image=server_image, client_image=client_image, delay=delay, progress=progress) as lab:
        runs = lab.run_clients(clients)
        assert lab.server is not None
        report = judge_run(server_image, client_image, delay, runs, lab.server.logs_with_timestamps())
        lab.emit(
            Kind.VERDICT,
            ok=report.ok,
            text=report.verdict.summary(),
            details=list(report.verdict.reasons),
            judged_by=report.judged_by,
            server=server_image,
            delay=delay,
            clients=clients,
            lab=lab.host_prefix.rstrip("/"),  # which lab of the run ('' for the first)
        )
        return report
