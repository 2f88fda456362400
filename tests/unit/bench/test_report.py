import json
import math
from pathlib import Path

from socklab.bench.measure import HeldRow, LatencyRow, RateRow
from socklab.bench.report import goals, markdown, write
from socklab.bench.results import BenchResults
from socklab.bench.startup import StartupRow

MACHINE = {
    "cores": "2",
    "memory_gb": "24",
    "kernel": "6.1",
    "docker": "20.10",
    "cgroup": "v1",
    "storage": "overlay2",
    "date": "today",
}


def rate(version: str, per_second: float, cpu: float) -> RateRow:
    return RateRow(version, 1, per_second, cpu, int(per_second), 0, {}, 0.5)


def results() -> BenchResults:
    r = BenchResults(False, ("c-epoll", "c-fork", "epoll", "fork"), MACHINE)
    r.rates = [
        rate("c-epoll", 10_000, 50),
        rate("c-fork", 2_000, 200),
        rate("epoll", 9_600, 60),
        rate("fork", 900, 900),
    ]
    r.latency = [LatencyRow("c-epoll", 500, 5, 2500, 0, {"p50": 0.001, "p99": 0.002, "p999": 0.003, "max": 0.004}, {})]
    held = HeldRow(
        "epoll", 10_000, 1, 1, answered=10_000, wall_seconds=5.5, latency={"p50": 5.0, "p99": 5.2, "max": 5.3}
    )
    held.within_delay_plus_1 = held.within_delay_plus_half = 1.0
    held.memory_peak_mb = 40.0
    failed = HeldRow("fork", 10_000, 1, 1, answered=4_000, failed=6_000, errors={"timeout": 6_000})
    r.held = [held, failed]
    r.startup = [StartupRow("compose up → 3 answered", [2.5])]
    r.seconds = 300.0
    return r


def test_ratios_to_both_references_are_in_the_table() -> None:
    text = markdown(results())
    row = next(line for line in text.splitlines() if line.startswith("| epoll |"))
    assert "0.96×" in row and "4.80×" in row  # rate against c-epoll and against c-fork
    assert "1.20×" in row  # CPU per connection against c-epoll


def test_goals_say_what_is_met_and_what_is_not() -> None:
    verdicts = {goal: met for goal, _measured, met in goals(results())}
    assert verdicts["best Python ≥ 0.95× c-epoll conn/s"] == "yes"
    assert verdicts["… and ≤ 1.3× its CPU per connection"] == "yes"
    assert verdicts["fork ≥ 0.5× c-fork conn/s"] == "**no**"
    assert verdicts["10,000 held (Python), all within delay+0.5 s, ≤ 64 MB"] == "yes"
    assert verdicts["compose up → 3 answers ≤ 3 s"] == "yes"


def test_write_gives_markdown_json_and_plots(tmp_path: Path) -> None:
    write(results(), tmp_path)
    data = json.loads((tmp_path / "bench.json").read_text())
    assert [row["version"] for row in data["rates"]] == ["c-epoll", "c-fork", "epoll", "fork"]
    assert data["held"][1]["all_answered"] is False
    assert (tmp_path / "bench-rate.png").stat().st_size > 0 and (tmp_path / "bench-held.png").stat().st_size > 0
    assert not math.isnan(data["seconds"])
