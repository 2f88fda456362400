"""`socklab bench`: every server version against the C references; tables, JSON and plots."""

from __future__ import annotations

import json
import sys
from typing import Any

from socklab.bench.options import BenchOptions
from socklab.cli.command import add_command
from socklab.cli.exit_codes import ExitCode

EPILOG = """examples:
  socklab bench --quick                                  # about 2 minutes
  socklab bench --versions epoll --versions async --json # the references are always measured too
"""


def run(options: BenchOptions) -> int:
    from socklab.bench.report import markdown
    from socklab.bench.run import run_bench

    results = run_bench(options)
    print(markdown(results))
    if options.json:
        print(json.dumps(results.to_json(), default=str))
    print(f"wrote bench.md, bench.json, bench-rate.png, bench-held.png to {options.output}", file=sys.stderr)
    return ExitCode.FAILED if results.failures else ExitCode.OK


def register(sub: Any) -> None:
    add_command(
        sub,
        "bench",
        "measure every server version against the C references: conn/s, CPU per connection, latency, "
        "held clients, start-up",
        BenchOptions,
        run,
        epilog=EPILOG,
    )
