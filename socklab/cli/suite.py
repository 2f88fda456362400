"""``socklab faults``: the reliability suite against every server version; a table, ``--json`` rows, a PNG."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from socklab.faults.suite import FAULTS, SuiteSettings, run_suite
from socklab.faults.table import draw_png, format_table, mechanisms
from socklab.progress import to_stderr

DEFAULT_SERVERS = ("socklab/server:fork", "socklab/server:thread", "socklab/server:async", "socklab/server:c-fork")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "faults",
        help="the reliability suite: each fault against each server version under load; count what was lost",
    )
    p.add_argument(
        "--server-image", action="append", default=[], help=f"repeatable (default: {', '.join(DEFAULT_SERVERS)})"
    )
    p.add_argument("--client-image", default="socklab/client:latest", help="the client image making the exchanges")
    p.add_argument("--fault", action="append", choices=FAULTS, default=[], help="repeatable (default: all)")
    p.add_argument("--json", action="store_true", help="print the rows as a JSON list")
    p.add_argument("--output", metavar="DIR", help="write faults.png (and faults.json) into DIR")
    p.set_defaults(func=cmd_faults)


def cmd_faults(args: argparse.Namespace) -> int:
    rows = run_suite(
        servers=args.server_image or list(DEFAULT_SERVERS),
        client_image=args.client_image,
        faults=tuple(args.fault) or FAULTS,
        settings=SuiteSettings(),
        progress=to_stderr("faults"),
    )
    if args.json:
        print(json.dumps([row.as_json() for row in rows]))
    else:
        print(format_table(rows))
        print("\n".join(mechanisms(rows)))
    if args.output:
        out = Path(args.output)
        print(f"picture: {draw_png(rows, out / 'faults.png')}", file=sys.stderr)
        (out / "faults.json").write_text(json.dumps([row.as_json() for row in rows], indent=1))
    return 0 if all(row.ok for row in rows) else 1
