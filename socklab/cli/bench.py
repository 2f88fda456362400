"""`socklab bench`: every server version against the C references; tables, JSON and plots."""

from __future__ import annotations

import argparse
import json
import sys

from socklab.bench.options import BenchOptions


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "bench",
        help="measure every server version against the C references (rate, CPU, latency, held clients, start-up)",
        description=__doc__,
    )
    try:
        from socklab.cli.options import add_options
    except ImportError:  # before the shared CLI options landed: the same flags by hand
        _add_flags(parser)
    else:
        add_options(parser, BenchOptions)
    parser.set_defaults(func=cmd_bench)


def _add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a smaller run (about 2 min) instead of the full one")
    parser.add_argument("--versions", nargs="+", default=(), metavar="V", help="server versions to measure")
    parser.add_argument("--output", default="bench/results", metavar="DIR", help="where results go")
    parser.add_argument("--json", action="store_true", help="also print the JSON results on stdout")
    parser.add_argument("--image-prefix", default="socklab", help="PREFIX/server:VERSION, PREFIX/loadgen:c")


def _options(args: argparse.Namespace) -> BenchOptions:
    try:
        from socklab.cli.options import options_from
    except ImportError:
        return BenchOptions(
            quick=args.quick,
            versions=tuple(args.versions),
            output=args.output,
            json=args.json,
            image_prefix=args.image_prefix,
        )
    return options_from(args, BenchOptions)


def cmd_bench(args: argparse.Namespace) -> int:
    try:
        options = _options(args)
    except ValueError as exc:
        print(f"socklab bench: {exc}", file=sys.stderr)
        return 2
    from socklab.bench.report import markdown
    from socklab.bench.run import run_bench

    results = run_bench(options)
    print(markdown(results))
    if options.json:
        print(json.dumps(results.to_json(), default=str))
    print(f"wrote {options.output}/bench.md, bench.json, bench-rate.png, bench-held.png", file=sys.stderr)
    return 0 if not results.failures else 1
