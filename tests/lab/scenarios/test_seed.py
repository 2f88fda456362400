"""The same seed gives the same run: the same steps at the same offsets on the same targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from support_scenarios import scenario_run

pytestmark = pytest.mark.lab

SCENARIO = """name: seeded targets
lab:
  server: {server}
  clients: 4
  delay: 0.5
method:
  - at: 0s
    clients: {{count: 4, exchanges: continuous}}
  - at: 1s
    fault: pause
    target: clients
    mode: one
    for: 1s
  - at: 2500ms
    fault: partition
    target: clients
    mode: fixed-percent
    value: 50
    for: 1s
  - at: 4s
    end: true
"""


def test_the_same_seed_twice_gives_the_same_moments_and_targets(tmp_path: Path, lab_images, tools_image) -> None:
    path = tmp_path / "seeded.scenario.yaml"
    path.write_text(SCENARIO.format(server=lab_images.servers["fork"]))
    first, second = (scenario_run(path, lab_images.client, "--seed", "11") for _ in range(2))
    for ran in (first, second):
        assert ran.code == 0, ran.describe()
        assert ran.journal["seed"] == 11
    assert first.journal["plan"] == second.journal["plan"]
    steps = [
        [(s["name"], s["planned"], s["targets"]) for s in ran.journal["runs"][0]["steps"]] for ran in (first, second)
    ]
    assert steps[0] == steps[1]
    seeded = [s for s in first.journal["runs"][0]["steps"] if s["seeded"] and s["kind"] == "fire"]
    assert [len(s["targets"]) for s in seeded] == [1, 2]  # one host; 50 % of four
    for ran in (first, second):
        applied = [s for s in ran.journal["runs"][0]["steps"] if s["seeded"] and s["kind"] == "fire"]
        for step in applied:  # the chosen hosts are the ones the fault landed on (their containers' names)
            assert all(any(target in said for said in step["said"]) for target in step["targets"]), step
            assert step["fired"] >= step["planned"]
