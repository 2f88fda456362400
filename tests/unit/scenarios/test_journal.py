"""The journal's two forms: JSON and JUnit XML (read back with a JUnit parser). No Docker."""

from __future__ import annotations

from pathlib import Path

from junitparser import Failure, JUnitXml

from socklab.paths import ROOT
from socklab.scenarios.journal import Journal, ProbeRecord, StepRecord, VersionRun, write_junit
from socklab.scenarios.loader import load
from socklab.scenarios.plan import plan

SCENARIO = load(ROOT / "scenarios" / "partition-during-swap.scenario.yaml")


def journal() -> Journal:
    run = VersionRun("socklab/server:fork")
    run.steps = [
        StepRecord("m0 clients", 0, "fire", "clients", 0.0, fired=0.004, effective=0.02),
        StepRecord("cut fault", 1, "fire", "fault partition", 3.0, fired=3.25, effective=3.27),
        StepRecord("m3 swap", 3, "fire", "swap", 9.0, fired=9.001, error="RuntimeError: no"),
    ]
    answered, lost, _p99 = SCENARIO.steady_state
    run.probes = [
        ProbeRecord("before", answered, 1.0, "4/4"),
        ProbeRecord("run", lost, 2.0, "2 of 36 never answered: 2 timeout"),
        ProbeRecord("after", answered, 1.0, "4/4"),
    ]
    return Journal(SCENARIO, plan(SCENARIO, 42), {"version": "20.10"}, [run])


def test_the_json_journal_has_each_steps_moments_each_probe_and_the_seed() -> None:
    data = journal().as_json()
    assert data["seed"] == 42 and data["engine"] == {"version": "20.10"} and data["ok"] is False
    steps = data["runs"][0]["steps"]
    assert (steps[1]["planned"], steps[1]["fired"], steps[1]["lateness"], steps[1]["late"]) == (3.0, 3.25, 0.25, True)
    assert data["runs"][0]["lateness"] == {"median": 0.004, "max": 0.25, "late": 1, "threshold": 0.1}
    assert [p["ok"] for p in data["runs"][0]["probes"]] == [True, False, True]
    assert any("iptables" in said for said in data["not_seeded"])


def test_junit_has_a_case_per_probe_and_phase_and_says_what_failed(tmp_path: Path) -> None:
    path = write_junit(journal(), tmp_path / "scenario.xml")
    suites = list(JUnitXml.fromfile(str(path)))
    assert len(suites) == 1 and suites[0].tests == 4 and suites[0].failures == 2
    cases = {case.name: case for case in suites[0]}
    assert list(cases) == [
        "before: answered at-least 1",
        "run: lost at-most 0",
        "after: answered at-least 1",
        "steps fired as planned",
    ]
    (failure,) = [r for r in cases["run: lost at-most 0"].result if isinstance(r, Failure)]
    assert failure.message == "lost FAILED run: 2 (at-most 0; 2 of 36 never answered: 2 timeout)"
    assert cases["before: answered at-least 1"].is_passed
    assert "m3 swap: RuntimeError: no" in cases["steps fired as planned"].result[0].message
