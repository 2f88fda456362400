"""`socklab bench` on the command line: --json leaves stdout to the JSON alone; the subcommands parse."""

from __future__ import annotations

import json
import math

import pytest

from socklab.bench import run as bench_run
from socklab.bench.measure import RateRow
from socklab.bench.run import BenchResults
from socklab.cli.main import build_parser, main

MACHINE = dict.fromkeys(("cores", "memory_gb", "kernel", "docker", "cgroup", "storage", "date"), "x")


def fake_run_bench(options, quiet=False):
    results = BenchResults(True, options.chosen, MACHINE)
    results.rates = [
        RateRow("c-epoll", 1, 1000.0, 40.0, 1000, 0, {}, 0.5),
        RateRow("epoll", 1, math.nan, 50.0, 0, 0, {}, 0.5),  # a figure that could not be measured
    ]
    results.seconds = 1.0
    return results


def test_json_run_prints_one_json_document_and_the_table_on_stderr(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(bench_run, "run_bench", fake_run_bench)
    code = main(["bench", "--quick", "--json", "--output", str(tmp_path)])
    out, err = capsys.readouterr()
    data = json.loads(out)  # all of stdout
    assert code == 0
    assert [r["version"] for r in data["rates"]] == ["c-epoll", "epoll"]
    assert data["rates"][1]["per_second"] is None  # NaN is not JSON
    assert "| version |" in err and "| version |" not in out


@pytest.mark.parametrize(
    ("argv", "chosen"),
    [
        (["bench", "outside", "--rounds", "2", "--versions", "epoll"], "outside"),
        (["bench", "backlog", "--versions", "async", "c-fork"], "backlog"),
        (["bench", "startup", "--repeat", "1"], "startup"),
    ],
)
def test_subcommands_parse(argv, chosen):
    args = build_parser().parse_args(argv)
    assert args.bench_command == chosen
    if chosen != "outside":
        assert args.args == argv[2:]  # handed to the script's own parser as given
