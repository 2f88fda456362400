"""Reading a scenario: the issue's shape loads; every bad file is refused before anything starts, each
problem naming its file, line and column, the field, and what would be valid. No Docker."""

from __future__ import annotations

from pathlib import Path

import pytest

from socklab.faults.params import LossParams
from socklab.paths import ROOT
from socklab.scenarios.loader import ScenarioInvalid, load, loads
from socklab.scenarios.model import Clients, End, Fault, Probe, Swap, Target, seconds

EXAMPLE = ROOT / "scenarios" / "partition-during-swap.scenario.yaml"


def refused(text: str) -> list[str]:
    with pytest.raises(ScenarioInvalid) as caught:
        loads(text, "bad.scenario.yaml")
    return caught.value.problems


def lab(method: str, steady: str = "") -> str:
    return f"name: t\nlab:\n  server: s:1\n  clients: 4\n{steady}method:\n{method}"


def test_the_issues_example_loads_into_the_model() -> None:
    scenario = load(EXAMPLE)
    assert scenario.seed == 42 and scenario.lab.servers == ("socklab/server:fork",) and scenario.lab.clients == 4
    kinds = [type(step.action) for step in scenario.method]
    assert kinds == [Clients, Fault, Fault, Swap, Probe, End]
    assert scenario.method[0].action == Clients(4, None)
    partition = scenario.method[1]
    assert (partition.at, partition.id, partition.where.line) == (3.0, "cut", 21)
    loss = scenario.method[2].action
    assert isinstance(loss, Fault) and loss.params == LossParams(percent=20) and loss.seconds == 2.0
    assert loss.target == Target("server")
    assert [(c.probe, c.over) for c in scenario.steady_state] == [("answered", "wave"), ("lost", "run"),
                                                                  ("latency-p99", "wave")]  # fmt: skip
    assert scenario.end_at == 14.0


@pytest.mark.parametrize(("text", "value"), [("500ms", 0.5), ("3s", 3.0), ("1m", 60.0), (2, 2.0), (1.5, 1.5)])
def test_offsets(text: str | float, value: float) -> None:
    assert seconds(text) == value


def test_a_misspelt_field_is_refused_with_its_line_and_the_right_spelling() -> None:
    problems = refused(lab("  - at: 0s\n    fault: partition\n    tagret: server\n"))
    assert problems == [
        "bad.scenario.yaml:8:5: method[0].tagret: unknown field 'tagret'; did you mean 'target'? valid here: "
        "at, id, fault, target, mode, value, for, direction"
    ]


def test_an_unknown_fault_a_bad_time_and_a_bound_are_each_one_line() -> None:
    problems = refused(lab("  - at: 0s\n    fault: los\n  - at: 3 s\n    end: true\n  - at: 1s\n    fault: loss\n"
                           "    percent: 200\n"))  # fmt: skip
    assert problems[0].startswith("bad.scenario.yaml:7:12: method[0].fault: 'los' is not one of loss, partition")
    assert "(did you mean 'loss'?)" in problems[0]
    assert problems[1] == "bad.scenario.yaml:8:9: method[1].at: '3 s' is not a time: 500ms, 3s, 1m or bare seconds"
    assert problems[2].startswith("bad.scenario.yaml:12:14: method[2].percent: 200 must be at most 100")


def test_a_step_has_one_action_and_a_fault_its_required_parameters() -> None:
    problems = refused(lab("  - at: 0s\n    swap: x:1\n    end: true\n  - at: 1s\n    fault: loss\n"))
    assert problems[0] == (
        "bad.scenario.yaml:6:5: method[0]: a step has exactly one action of clients, fault, undo, swap, scale, "
        "probe, end; found swap, end"
    )
    assert problems[1] == "bad.scenario.yaml:9:5: method[1]: missing 'percent'"


def test_what_the_schema_cannot_say_is_checked_with_the_steps_place() -> None:
    problems = refused(
        lab(
            "  - at: 0s\n    undo: nope\n"
            "  - at: 1s\n    fault: slicer\n    average-bytes: 4\n    target: client-1\n"
            "  - at: 2s\n    id: k\n    fault: kill\n    for: 3s\n"
            "  - at: 3s\n    swap: s:2\n"
            "  - at: 4s\n    fault: pause\n    target: client-9\n"
        )
    )
    assert problems[0] == "bad.scenario.yaml:6:5: method[0]: undo 'nope': no fault step has that id (ids: k)"
    assert "bad.scenario.yaml:8:5: method[1]: slicer targets only the server" in problems[1]
    assert "method[4]: client-9 does not exist at 4s: there are 4 client hosts" in problems[2]
    assert problems[3].startswith("bad.scenario.yaml:16:5: swap at 3s while kill holds the server (2s to 5s)")


def test_a_wave_needs_hosts_the_continuous_load_leaves_free() -> None:
    problems = refused(lab("  - at: 0s\n    clients: {count: 3, exchanges: continuous}\n"
                           "  - at: 1s\n    clients: {count: 2}\n"))  # fmt: skip
    assert problems == [
        "bad.scenario.yaml:8:5: method[1]: clients count 2: 3 of the 4 client hosts make continuous exchanges at "
        "1s; a wave needs hosts of its own (lab.clients, or scale)"
    ]


def test_not_yaml_an_empty_file_and_a_key_written_twice() -> None:
    assert refused("name: [unclosed\n")[0].startswith("bad.scenario.yaml:2:1: not YAML")
    assert refused("") == ["bad.scenario.yaml:1:1: the file is empty"]
    assert refused("name: a\nname: b\n") == ["bad.scenario.yaml:2:1: name: written twice"]


def test_a_missing_file_is_a_problem_too(tmp_path: Path) -> None:
    with pytest.raises(ScenarioInvalid, match="cannot be read"):
        load(tmp_path / "nope.scenario.yaml")
