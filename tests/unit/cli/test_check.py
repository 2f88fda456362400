"""``socklab check``'s options and verdict, without Docker: rules by id, a bad rule is a usage error, and
the JSON names the broken rule with the server's log."""

from __future__ import annotations

import json

from socklab.checks.bad_input import BAD_INPUT
from socklab.checks.contract import RULES, ContractViolation, RuleResult
from socklab.cli.check import CheckOptions, _as_json, _print
from socklab.cli.main import ExitCode, main


def test_the_rules_have_distinct_ids_and_the_first_is_plus_one():
    ids = [rule.id for rule in RULES]
    assert len(set(ids)) == len(ids)
    assert ids[0] == "plus-one"


def test_an_unknown_rule_is_one_line_and_exit_2(capsys):
    assert main(["check", "some/image", "--rule", "speed"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "unknown rule(s) speed; choose from plus-one" in err and err.count("\n") == 1


def test_the_json_verdict_names_the_broken_rule_and_carries_the_log():
    rule = RULES[0]
    violation = ContractViolation("'A' -> 'B'", "answered 0x41 to 0x41, expected 0x42", "listening\nanswered")
    verdict = _as_json("x/y:1", [RuleResult(RULES[1], 1.0), RuleResult(rule, 2.0, violation, "listening\nanswered")])
    assert json.loads(json.dumps(verdict))["ok"] is False
    kept, broken = verdict["rules"]
    assert kept["kept"] and kept["broken"] is None and kept["server_log"] is None
    assert (broken["rule"], broken["broken"], broken["detail"]) == ("plus-one", "'A' -> 'B'", violation.detail)
    assert broken["server_log"] == "listening\nanswered"


def test_bad_input_rules_are_named_by_id_with_or_without_the_flag(capsys):
    assert CheckOptions(image="x:1", rule=("garbage",)).rule == ("garbage",)
    assert main(["check", "x:1", "--rule", "nope"]) == ExitCode.USAGE
    assert "fork-pids-limit" in capsys.readouterr().err  # the choices include the bad-input rules


def test_a_rule_that_does_not_apply_says_so_and_breaks_nothing(capsys):
    fork_only = next(rule for rule in BAD_INPUT if rule.id == "fork-pids-limit")
    results = [RuleResult(RULES[0], 1.0), RuleResult(fork_only, 2.0, not_applicable="the Python fork model's")]
    verdict = _as_json("x/y:1", results)
    assert verdict["ok"] is True
    assert (verdict["rules"][1]["kept"], verdict["rules"][1]["not_applicable"]) == (None, "the Python fork model's")
    _print("x/y:1", "c:1", results)
    out = capsys.readouterr().out
    assert "n/a" in out and "not applicable: the Python fork model's" in out
    assert out.rstrip().endswith("keeps all 1 rules checked; 1 not applicable")


def test_with_kernel_each_rule_says_what_the_kernel_streams_recorded(capsys):
    counts = {"socket": 40, "packet": 120, "syscall": 300}
    results = [RuleResult(RULES[0], 1.0, kernel_events=counts), RuleResult(RULES[1], 2.0)]
    verdict = _as_json("x/y:1", results)
    assert verdict["rules"][0]["kernel_events"] == counts and verdict["rules"][1]["kernel_events"] is None
    _print("x/y:1", "c:1", results)
    assert "(kernel: 40 socket, 120 packet, 300 syscall events)" in capsys.readouterr().out
    assert CheckOptions(image="x:1", kernel=True).kernel
