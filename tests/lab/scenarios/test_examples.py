"""The repository's example scenarios, run as a user runs them: the hypothesis holds, every step fires (never
before its moment), the journal, the JUnit XML and the report say so. (flaky-network runs in
tests/lab/cli/test_leaves_nothing.py, which also holds it to leaving the engine as it found it.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from junitparser import JUnitXml

from support_scenarios import scenario_run

pytestmark = pytest.mark.lab


def check_journal(ran, steps: int) -> dict:
    assert ran.code == 0, ran.describe()
    assert ran.journal["ok"] is True, ran.describe()
    (run,) = ran.journal["runs"]
    assert len(run["steps"]) == steps, ran.describe()
    for step in run["steps"]:
        assert step["fired"] is not None and step["fired"] >= step["planned"], step
        assert not step["error"], step
    assert run["probes"] and all(probe["ok"] for probe in run["probes"]), ran.describe()
    assert ran.journal["engine"]["version"] and ran.journal["engine"]["kernel"]
    assert run["image"]["id"].startswith("sha256:")
    print(f"{ran.journal['scenario']}: lateness {run['lateness']}")  # the figures, in the test's output
    return run


def test_the_class_demo(example, lab_images, tools_image, tmp_path: Path) -> None:
    junit, report = tmp_path / "demo.xml", tmp_path / "demo.html"
    ran = scenario_run(example("class-demo"), lab_images.client, "--junit", str(junit), "--report", str(report))
    run = check_journal(ran, steps=9)
    kill = next(step for step in run["steps"] if step["action"].startswith("fault kill"))
    assert any(said.startswith("applied kill") for said in kill["said"]), kill
    assert {(p["phase"], p["probe"]) for p in run["probes"]} >= {("before", "defunct"), ("after", "server-alive"),
                                                                 ("run", "lost")}  # fmt: skip
    (suite,) = list(JUnitXml.fromfile(str(junit)))
    assert suite.tests == len(run["probes"]) + 1 and suite.failures == 0 and suite.errors == 0
    assert all(case.is_passed for case in suite)
    html = report.read_text()
    assert "Scenario: steps and probes" in html and "kill on server" in html


def test_a_partition_then_a_swap_under_continuous_load(example, lab_images, tools_image) -> None:
    ran = scenario_run(example("partition-during-swap"), lab_images.client)
    run = check_journal(ran, steps=8)
    swap = next(step for step in run["steps"] if step["action"].startswith("swap"))
    assert lab_images.servers["async"] in swap["action"] and "accepting" in swap["said"][0]
    lost = next(p for p in run["probes"] if p["phase"] == "run" and p["probe"] == "lost")
    assert lost["value"] == 0 and "never answered" in lost["detail"]
    at_11 = next(p for p in run["probes"] if p["phase"] == "method at 11s")
    assert at_11["probe"] == "answered" and at_11["value"] >= 0.9
