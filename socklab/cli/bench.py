"""`socklab bench`: every server version against the C references; tables, JSON and plots.
`socklab bench outside`: the same servers measured with a load generator socklab did not write."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

from socklab.bench.options import BenchOptions
from socklab.bench.outside import OutsideOptions
from socklab.cli.command import add_command
from socklab.cli.exit_codes import ExitCode

EPILOG = """examples:
  socklab bench --quick                                  # about 2 minutes
  socklab bench --versions epoll --versions async --json # the references are always measured too
  socklab bench --quick --json --output /tmp/b | jq .rates   # stdout is the JSON alone
  socklab bench outside                                  # c-epoll and epoll with tcpkali, then socklab's loader
  socklab bench backlog --help                           # bursts against the lesson's backlog of 5
  socklab bench startup --help                           # docker run → first answer against Docker's floor
  socklab bench kernel --help                            # what --kernel costs the server and the machine
"""


def run(options: BenchOptions) -> int:
    from socklab.bench.report import json_text, markdown
    from socklab.bench.run import run_bench

    results = run_bench(options)
    # With --json, stdout is one JSON document and nothing else; the table goes to stderr.
    print(markdown(results), file=sys.stderr if options.json else sys.stdout)
    if options.json:
        print(json_text(results))
    print(f"wrote bench.md, bench.json, bench-rate.png, bench-held.png to {options.output}", file=sys.stderr)
    return ExitCode.FAILED if results.failures else ExitCode.OK


def outside(options: OutsideOptions) -> int:
    from socklab.bench.outside import ToolMissing, markdown, run_outside

    try:
        results = run_outside(options, progress=lambda line: print(line, file=sys.stderr, flush=True))
    except ToolMissing as exc:
        print(f"socklab bench outside: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    print(markdown(results), file=sys.stderr if options.json else sys.stdout)
    if options.json:
        print(json.dumps(results.to_json(), default=str))
    return ExitCode.OK


def register(sub: Any) -> None:
    parser = add_command(
        sub,
        "bench",
        "measure every server version against the C references: conn/s, CPU per connection, latency, "
        "held clients, start-up",
        BenchOptions,
        run,
        epilog=EPILOG,
    )
    commands = parser.add_subparsers(dest="bench_command", metavar="[outside|backlog|startup|kernel]")
    add_command(
        commands,
        "outside",
        "the servers measured with an outside load generator (tcpkali) across the bench bridge, then with "
        "socklab's loader at the rate it reached: conn/s and CPU per connection, read from the server's side",
        OutsideOptions,
        outside,
    )
    for name, module, help_text in SCRIPTS:
        script = commands.add_parser(name, help=help_text, description=help_text, add_help=False, prefix_chars="\0")
        script.add_argument("args", nargs=argparse.REMAINDER, help=f"the flags of {name} (--help lists them)")
        script.set_defaults(func=partial(_script, module))


# The smaller measurements with their own flags (argparse in the module): the lesson's backlog of 5 under a
# burst, which `socklab bench` removes on purpose (backlog 65535), and the start-up floor of Docker.
SCRIPTS = (
    ("backlog", "socklab.bench.backlog", "sequential rate and bursts against backlog 5 and 128, from the host"),
    ("startup", "socklab.bench.starts", "image sizes, docker run to first answer against Docker's floor, compose"),
    ("kernel", "socklab.kernel.cost", "what --kernel costs: a traced server's answers and CPU, the observer's CPU"),
)


def _script(module: str, args: argparse.Namespace) -> int:
    main: Callable[[list[str]], int] = importlib.import_module(module).main
    return main(list(args.args))
