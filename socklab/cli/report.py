"""``socklab report EVENTS.jsonl -o FILE.html``: a saved event log replayed into its self-contained report."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socklab.cli.command import add_command
from socklab.cli.exit_codes import ExitCode
from socklab.events.schema import MalformedEvent
from socklab.wire.knobs import env_name, option


@dataclass(frozen=True)
class ReportOptions:
    log: str = option("", "the event log (--events FILE of any command)", metavar="EVENTS.jsonl", positional=True)
    output: str = option(
        "report.html", "the HTML file to write", metavar="FILE.html", flag="-o", env=env_name("report_output")
    )

    def __post_init__(self) -> None:
        if not self.output.lower().endswith((".html", ".htm")):
            raise ValueError(f"-o {self.output!r}: name an .html file")


def report(options: ReportOptions) -> ExitCode:
    from socklab.report.render import report_from_log

    if not Path(options.log).is_file():
        print(f"socklab report: no such file: {options.log}", file=sys.stderr)
        return ExitCode.USAGE
    try:
        path = report_from_log(options.log, options.output)
    except MalformedEvent as exc:
        print(f"socklab report: {options.log} is not a socklab event log: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    print(path)
    return ExitCode.OK


def register(sub: Any) -> None:
    add_command(
        sub,
        "report",
        "make the self-contained HTML report of a run from its event log (opens offline, prints)",
        ReportOptions,
        report,
        epilog="example:\n  socklab run --clients 3 --events run.jsonl\n  socklab report run.jsonl -o run.html",
    )
