"""``chaos run`` of the example experiment (scenarios/chaostoolkit/experiment.json) drives a socklab lab
through socklab's extension and passes: its journal says the steady state was met before and after, nothing
was lost, and the lab is gone when it returns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from socklab.lab.labels import OWNER_PID, PROJECT
from socklab.paths import ROOT

pytestmark = pytest.mark.lab

CHAOS = str(Path(sys.executable).with_name("chaos"))
EXPERIMENT = ROOT / "scenarios" / "chaostoolkit" / "experiment.json"


def test_chaos_run_of_the_example_meets_its_steady_state(tmp_path, lab_images, tools_image, docker_client) -> None:
    journal_path = tmp_path / "journal.json"
    env = {**os.environ, "SOCKLAB_CHAOS_SERVER": lab_images.servers["fork"], "SOCKLAB_CHAOS_CLIENT": lab_images.client}
    process = subprocess.Popen(
        [
            CHAOS,
            "--no-version-check",
            "--log-file",
            str(tmp_path / "chaostoolkit.log"),
            "run",
            str(EXPERIMENT),
            "--journal-path",
            str(journal_path),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out, _ = process.communicate(timeout=300)
    journal = json.loads(journal_path.read_text())
    said = f"exit {process.returncode}\n{out[-4000:]}"
    assert process.returncode == 0, said
    assert journal["status"] == "completed" and journal["deviated"] is False, said
    for phase in ("before", "after"):
        state = journal["steady_states"][phase]
        assert state["steady_state_met"] is True, said
        assert [probe["status"] for probe in state["probes"]] == ["succeeded"] * 4, said
    lost = next(run for run in journal["run"] if run["activity"]["name"] == "exchanges of the method never answered")
    assert lost["status"] == "succeeded" and lost["output"] == 0, lost
    applied = [run for run in journal["run"] if run["activity"]["provider"]["func"] == "apply_fault"]
    assert [run["status"] for run in applied] == ["succeeded", "succeeded"], said
    selector = {"label": [f"{PROJECT}=socklab", f"{OWNER_PID}={process.pid}"]}
    assert docker_client.containers.list(all=True, filters=selector) == [], "the control left containers"
    assert docker_client.networks.list(filters=selector) == [], "the control left its network"
