"""A scenario against a deliberately broken server fails naming its probe, through the pytest plugin as a
team would run it (``pytest -p socklab --socklab-scenarios``, under xdist): one item per server, the good
one passes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

SCENARIO = """name: answers right
lab:
  server: socklab/server:fork
  clients: 2
  delay: 0.5
steady-state:
  - probe: answered
    at-least: 1.0
method:
  - at: 0s
    clients: {count: 2}
  - at: 1500ms
    probe: lost
    at-most: 0
  - at: 2s
    end: true
"""


def test_a_broken_server_fails_its_item_naming_the_probe_and_the_good_one_passes(
    tmp_path: Path, lab_images, broken_images
) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "answers.scenario.yaml").write_text(SCENARIO)
    broken, good = broken_images["echo"], lab_images.servers["fork"]  # echo: answers 'A' to 'A'
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "socklab",
            "-p",
            "no:cacheprovider",
            "--socklab-scenarios",
            "scenarios",
            "--socklab-image",
            broken,
            "--socklab-image",
            good,
            "--socklab-no-contract",
            "--socklab-client-image",
            lab_images.client,
            "-q",
            "-rN",
            "-n",
            "2",  # under xdist: each item in a worker of its own, each with a lab of its own
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "1 failed, 1 passed" in out, out
    assert f"scenario 'answers right' against {broken}" in out, out
    assert "answered FAILED before: 0 (at-least 1; 0/2 answered correctly)" in out, out
    assert "lost FAILED method at 1.5s: 2 (at-most 0; 2 of 2 never answered: 2 wrong-answer)" in out, out
    assert "steps (planned, fired):" in out and "clients: 2 host(s), 1 exchange(s) each" in out, out
