"""``socklab scenario run FILE``, ``socklab scenario check FILE``, ``socklab scenario schema``: a fault
experiment written in a file (docs/scenarios.md).

``run`` validates the file first (nothing starts when it is bad: exit 2, each problem with its file, line and
column), runs it against each server version, prints each step's planned and actual moment and each probe's
value, and exits 0 when the hypothesis held, 1 when a probe failed (named, with its value and tolerance).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from socklab.cli.command import add_command
from socklab.cli.exit_codes import ExitCode
from socklab.events.options import RecordOptions
from socklab.progress import to_stderr
from socklab.scenarios.loader import load
from socklab.scenarios.schema import scenario_schema
from socklab.wire.knobs import option


@dataclass(frozen=True)
class ScenarioFile:
    file: str = option("", "the scenario file (.scenario.yaml)", metavar="FILE", positional=True)

    def __post_init__(self) -> None:
        parent = getattr(super(), "__post_init__", None)
        if parent is not None:
            parent()
        load(self.file)  # ScenarioInvalid (a ConfigError): exit 2 before anything starts


@dataclass(frozen=True)
class ScenarioRunOptions(ScenarioFile, RecordOptions):
    """``scenario run``'s own options beside the recorded commands' (``RecordOptions``: --events, --report,
    --view, and whatever every recorded command gains later)."""

    seed: int = option(-1, "the seed (default: the file's, else a new one, printed)")
    server_image: tuple[str, ...] = option((), "run against this server image instead of the file's (repeatable)")
    client_image: str = option("", "the client image (default: the file's, else socklab/client:latest)")
    json: bool = option(False, "print the journal as JSON (each step planned and actual, each probe's value)")
    junit: str = option("", "write JUnit XML: a test case per probe and phase", metavar="FILE.xml")


def run(options: ScenarioRunOptions) -> ExitCode:
    from socklab.scenarios.journal import summary, write_junit
    from socklab.scenarios.runner import RunOptions, run_scenario

    scenario = load(options.file)
    journal = run_scenario(
        scenario,
        options=RunOptions(
            seed=None if options.seed < 0 else options.seed,
            servers=options.server_image,
            client_image=options.client_image or None,
        ),
        progress=to_stderr("scenario"),
    )
    if options.junit:
        print(f"junit: {write_junit(journal, options.junit)}", file=sys.stderr)
    print(json.dumps(journal.as_json(), indent=1) if options.json else summary(journal))
    return ExitCode.OK if journal.ok else ExitCode.FAILED


def check(options: ScenarioFile) -> ExitCode:
    from socklab.scenarios.plan import new_seed, plan

    scenario = load(options.file)
    planned = plan(scenario, scenario.seed if scenario.seed is not None else new_seed())
    print(f"{options.file}: {scenario.name}: valid; {len(scenario.method)} steps, end at {planned.end_at:g} s, "
          f"against {', '.join(scenario.lab.servers)}")  # fmt: skip
    for entry in planned.entries:
        targets = f" on {', '.join(entry.targets)}" if entry.targets else ""
        print(f"  {entry.at:7.3f}s  {entry.step.describe() if entry.kind == 'fire' else 'undo: its time ran out'}"
              f"{targets}  ({entry.step.where})")  # fmt: skip
    return ExitCode.OK


@dataclass(frozen=True)
class SchemaOptions:
    pass


def schema(_options: SchemaOptions) -> ExitCode:
    print(json.dumps(scenario_schema(), indent=1))
    return ExitCode.OK


def register(sub: Any) -> None:
    parser = sub.add_parser("scenario", help="run a fault experiment written in a file", description=__doc__)
    commands = parser.add_subparsers(dest="scenario_command", required=True, metavar="COMMAND")
    example = "example:\n  socklab scenario run scenarios/class-demo.scenario.yaml --report demo.html"
    add_command(
        commands, "run", "run a scenario file against its server versions", ScenarioRunOptions, run, epilog=example
    )
    add_command(commands, "check", "validate a scenario file and show its plan, starting nothing", ScenarioFile, check)
    add_command(commands, "schema", "print the scenarios' JSON Schema (for an editor)", SchemaOptions, schema)
