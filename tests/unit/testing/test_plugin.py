"""The plugin's options and collection, in a pytest of its own (pytester): no Docker needed."""

from __future__ import annotations

import pytest

from socklab.checks.bad_input import BAD_INPUT
from socklab.checks.contract import RULES
from socklab.faults.suite import SUITE

pytest_plugins = ["pytester"]


def collected(pytester: pytest.Pytester, *args: str) -> list[str]:
    result = pytester.runpytest("-p", "socklab", "--collect-only", "-q", *args)
    return [line for line in result.outlines if "::" in line]


def test_without_an_image_the_plugin_adds_nothing(pytester: pytest.Pytester):
    pytester.makepyfile(test_mine="def test_mine(): pass")
    assert collected(pytester) == ["test_mine.py::test_mine"]


def test_an_image_adds_one_test_per_rule_of_the_library(pytester: pytest.Pytester):
    assert collected(pytester, "--socklab-image", "team/server:1.2") == [
        f"socklab-contract::test_contract[team/server:1.2-{rule.id}]" for rule in RULES
    ]


def test_each_image_gets_the_whole_contract_and_faults_add_their_rows(pytester: pytest.Pytester):
    items = collected(pytester, "--socklab-image", "a:1", "--socklab-image", "b:2", "--socklab-faults")
    assert len(items) == 2 * (len(RULES) + len(SUITE))
    result = pytester.runpytest("-p", "socklab", "--collect-only", "-q", "--socklab-image", "a:1")
    result.stdout.fnmatch_lines([f"{len(RULES)} tests collected*"])  # the fault rows are not even collected
    assert "socklab-faults::test_fault[b:2-kill]" in items


def test_bad_input_adds_one_row_per_bad_input_rule_after_the_contract(pytester: pytest.Pytester):
    items = collected(pytester, "--socklab-image", "a:1", "--socklab-bad-input", "--socklab-faults")
    contract = [f"socklab-contract::test_contract[a:1-{rule.id}]" for rule in RULES]
    rows = [f"socklab-bad-input::test_bad_input[a:1-{rule.id}]" for rule in BAD_INPUT]
    assert items[: len(RULES) + len(BAD_INPUT)] == contract + rows
    assert len(items) == len(RULES) + len(BAD_INPUT) + len(SUITE)
    assert not [item for item in collected(pytester, "--socklab-image", "a:1") if "bad-input" in item]
    result = pytester.runpytest("-p", "socklab", "--help")
    result.stdout.fnmatch_lines(["*--socklab-bad-input*"])


def test_k_selects_among_the_contracts_tests_and_no_contract_leaves_the_fixtures(pytester: pytest.Pytester):
    pytester.makepyfile(test_mine="def test_mine(socklab_server_image): pass")
    assert collected(pytester, "--socklab-image", "x:1", "-k", "every-byte") == [
        "socklab-contract::test_contract[x:1-every-byte]"
    ]
    assert collected(pytester, "--socklab-image", "x:1", "--socklab-no-contract") == ["test_mine.py::test_mine[x:1]"]


def test_a_test_asking_for_the_server_image_is_skipped_without_one(pytester: pytest.Pytester):
    pytester.makepyfile(test_mine="def test_mine(socklab_server_image): pass")
    result = pytester.runpytest("-p", "socklab", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no server image: give one with --socklab-image IMAGE*"])


SCENARIO = """name: {name}
lab: {{server: [team/server:1, team/server:2], clients: 2}}
method:
  - {{at: 0s, clients: {{count: 2}}}}
  - {{at: 1s, end: true}}
"""


def test_scenario_files_are_items_only_with_the_option_one_per_server(pytester: pytest.Pytester):
    folder = pytester.mkdir("scenarios")
    (folder / "demo.scenario.yaml").write_text(SCENARIO.format(name="demo"))
    (folder / "other.yaml").write_text("not: a scenario\n")
    pytester.makepyfile(test_mine="def test_mine(): pass")
    assert collected(pytester) == ["test_mine.py::test_mine"]  # inert without --socklab-scenarios
    items = collected(pytester, "--socklab-scenarios", "scenarios")
    assert items == [
        "scenarios/demo.scenario.yaml::demo[team/server:1]",
        "scenarios/demo.scenario.yaml::demo[team/server:2]",
        "test_mine.py::test_mine",
    ]
    # --socklab-image: the image under test instead of the file's (and, as always, the contract, unless told not)
    only = collected(pytester, "--socklab-scenarios", "scenarios", "--socklab-image", "mine:3", "--socklab-no-contract",
                     "scenarios")  # fmt: skip
    assert only == ["scenarios/demo.scenario.yaml::demo[mine:3]"]


def test_a_scenario_that_does_not_validate_is_a_collection_error_with_its_line(pytester: pytest.Pytester):
    folder = pytester.mkdir("scenarios")
    (folder / "bad.scenario.yaml").write_text(SCENARIO.format(name="bad").replace("count: 2", "cuont: 2"))
    result = pytester.runpytest("-p", "socklab", "--socklab-scenarios", "scenarios", "--collect-only")
    result.stdout.fnmatch_lines(["*bad.scenario.yaml:4:*clients.cuont: unknown field 'cuont'; did you mean 'count'?*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED
