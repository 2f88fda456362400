"""The plan: every moment and target decided from the seed alone. No Docker."""

from __future__ import annotations

from socklab.scenarios.loader import loads
from socklab.scenarios.plan import plan

TEXT = """name: seeded
lab: {server: s:1, clients: 10}
method:
  - {at: 0s, clients: {count: 10, exchanges: continuous}}
  - {at: 1s, fault: partition, target: clients, mode: one, for: 2s}
  - {at: 2s, fault: loss, percent: 5, target: clients, mode: fixed-percent, value: 30, for: 1s}
  - {at: 4s, fault: pause, target: clients, mode: all, for: 500ms}
  - {at: 5s, end: true}
"""


def test_the_same_seed_gives_the_same_moments_and_targets() -> None:
    scenario = loads(TEXT)
    assert plan(scenario, 7).summary() == plan(scenario, 7).summary()


def test_the_seed_chooses_the_targets_and_says_so() -> None:
    scenario = loads(TEXT)
    chosen = {seed: [e.targets for e in plan(scenario, seed).entries if e.seeded] for seed in range(20)}
    assert len({str(targets) for targets in chosen.values()}) > 1, "twenty seeds, always the same targets"
    entries = plan(scenario, 1).entries
    one = next(e for e in entries if e.step.index == 1 and e.kind == "fire")
    percent = next(e for e in entries if e.step.index == 2 and e.kind == "fire")
    every = next(e for e in entries if e.step.index == 3 and e.kind == "fire")
    assert len(one.targets) == 1 and one.seeded
    assert len(percent.targets) == 3 and percent.seeded
    assert every.targets == tuple(f"client-{h}" for h in range(1, 11)) and not every.seeded


def test_a_for_is_an_undo_entry_at_its_end_before_a_fire_at_that_moment() -> None:
    moments = [(e.at, e.kind, e.step.index) for e in plan(loads(TEXT), 3).entries]
    assert moments == [
        (0.0, "fire", 0), (1.0, "fire", 1), (2.0, "fire", 2), (3.0, "undo", 1), (3.0, "undo", 2),
        (4.0, "fire", 3), (4.5, "undo", 3), (5.0, "fire", 4),
    ]  # fmt: skip
