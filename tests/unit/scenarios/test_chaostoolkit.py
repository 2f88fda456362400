"""The Chaos Toolkit extension as Chaos Toolkit sees it, without a lab: discovery, and the example experiment
validated by ``chaos validate`` (its activities' modules, functions and arguments checked against ours)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from socklab.chaostoolkit import discover
from socklab.paths import ROOT

EXPERIMENT = ROOT / "scenarios" / "chaostoolkit" / "experiment.json"


def test_discovery_lists_the_actions_and_the_scenario_probes() -> None:
    found = {(a["type"], a["name"]) for a in discover()["activities"]}
    assert {("action", "start_lab"), ("action", "apply_fault"), ("action", "undo_fault"), ("action", "swap"),
            ("action", "rollback")} <= found  # fmt: skip
    assert {("probe", p) for p in ("answered", "lost", "latency_p50", "latency_p99", "server_alive", "defunct",
                                   "exit_codes")} <= found  # fmt: skip


def test_the_example_experiment_is_valid_for_chaos(tmp_path: Path) -> None:
    chaos = str(Path(sys.executable).with_name("chaos"))
    done = subprocess.run(
        [chaos, "--no-version-check", "--log-file", str(tmp_path / "log"), "validate", str(EXPERIMENT)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "experiment looks valid" in (done.stdout + done.stderr).lower()
