"""``socklab faults``: the reliability suite against every server version; a table, ``--json`` rows, a PNG."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socklab.cli.command import add_command
from socklab.cli.exit_codes import ExitCode
from socklab.events.options import RecordOptions
from socklab.faults import catalog
from socklab.faults.suite import SUITE, SuiteSettings, run_suite
from socklab.faults.table import draw_png, format_table, mechanisms
from socklab.images.build import user_tags
from socklab.progress import to_stderr
from socklab.wire.knobs import option

DEFAULT_SERVERS = user_tags("server")  # every version that keeps the contract, from the one tag table


@dataclass(frozen=True)
class FaultsOptions(RecordOptions):
    server_image: tuple[str, ...] = option((), f"server image (repeatable; default {', '.join(DEFAULT_SERVERS)})")
    client_image: str = option("socklab/client:latest", "the client image making the exchanges", env="CLIENT_IMAGE")
    fault: tuple[str, ...] = option(
        (), f"which faults of the catalog (repeatable; default the suite's: {', '.join(SUITE)})"
    )
    json: bool = option(False, "print the rows as a JSON list instead of the table")
    output: str = option("", "write faults.png and faults.json into this folder", metavar="DIR")

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in self.fault:
            catalog.get(name)  # UnknownFault (a ValueError) names the catalog's faults


def faults(options: FaultsOptions) -> ExitCode:
    rows = run_suite(
        servers=list(options.server_image or DEFAULT_SERVERS),
        client_image=options.client_image,
        faults=tuple(catalog.get(name).name for name in options.fault) or SUITE,
        settings=SuiteSettings(),
        progress=to_stderr("faults"),
    )
    if options.json:
        print(json.dumps([row.as_json() for row in rows]))
    else:
        print(format_table(rows))
        print("\n".join(mechanisms(rows)))
    if options.output:
        out = Path(options.output)
        print(f"picture: {draw_png(rows, out / 'faults.png')}", file=sys.stderr)
        (out / "faults.json").write_text(json.dumps([row.as_json() for row in rows], indent=1) + "\n")
    return ExitCode.OK if all(row.ok for row in rows) else ExitCode.FAILED


def register(sub: Any) -> None:
    add_command(
        sub,
        "faults",
        "the reliability suite: each fault against each server version under load; count what was lost",
        FaultsOptions,
        faults,
    )
