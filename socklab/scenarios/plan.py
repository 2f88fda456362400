"""A scenario's run, decided before it starts: every step's moment and targets, from the seed alone.

Every choice socklab makes comes from ``random.Random(seed)``, in the order of the steps: which client
hosts a ``target: clients`` fault hits (``mode: one`` or ``fixed-percent``), and the impairment proxy's
jitter and slicer draws (its own ``--seed``). The same seed gives the same plan: the same steps at the
same offsets on the same targets. The kernel's own randomness is not socklab's to seed: which packets
iptables' ``statistic`` match drops under ``loss`` differs from run to run.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass

from socklab.scenarios.checks import hosts_at, wave_hosts
from socklab.scenarios.model import Clients, Fault, Scenario, Step

SEEDED = (
    "the client hosts a fault on `target: clients` hits (mode one, fixed-percent)",
    "the impairment proxy's jitter and slicer draws",
)
NOT_SEEDED = (
    "which packets iptables' statistic match drops (loss): the kernel's own randomness",
    "when the kernel retransmits, and how long each container takes to start",
)


@dataclass(frozen=True)
class Entry:
    """One moment of the run: a step fires (``undo``: a fault's ``for`` ran out) on these targets."""

    at: float
    step: Step
    kind: str = "fire"  # "fire" or "undo"
    targets: tuple[str, ...] = ()  # server, client-N
    seeded: bool = False  # the targets were drawn from the seed

    @property
    def name(self) -> str:
        label = self.step.id or f"method[{self.step.index}]"
        return f"{label} {'undo' if self.kind == 'undo' else self.step.kind}"


@dataclass(frozen=True)
class Plan:
    seed: int
    entries: tuple[Entry, ...]
    end_at: float

    def fires(self) -> list[Entry]:
        return [entry for entry in self.entries if entry.kind == "fire"]

    def summary(self) -> list[dict[str, object]]:
        """What the same seed must give again: each entry's moment, step and targets."""
        return [
            {"at": e.at, "step": e.step.index, "kind": e.kind, "targets": list(e.targets), "seeded": e.seeded}
            for e in self.entries
        ]


def new_seed() -> int:
    """A seed for a scenario that names none (printed, so that the run can be made again)."""
    return secrets.randbelow(2**31)


def _targets(scenario: Scenario, step: Step, rng: random.Random) -> tuple[tuple[str, ...], bool]:
    action = step.action
    if isinstance(action, Clients):
        numbers = range(1, action.count + 1) if action.continuous else wave_hosts(scenario, step, action.count)
        return tuple(f"client-{h}" for h in numbers), False
    if not isinstance(action, Fault):
        return (), False
    target = action.target
    if target.subject != "clients":
        return (target.subject,), False
    hosts: list[str] = [f"client-{h}" for h in range(1, hosts_at(scenario, step.at, step.index) + 1)]
    if target.mode == "all":
        return tuple(hosts), False
    if target.mode == "one":
        return (rng.choice(hosts),), True
    count = max(1, round(len(hosts) * (target.value or 0) / 100))
    return tuple(sorted(rng.sample(hosts, count), key=lambda h: int(h.split("-")[1]))), True


def plan(scenario: Scenario, seed: int) -> Plan:
    rng = random.Random(seed)
    entries: list[Entry] = []
    for step in scenario.method:
        targets, seeded = _targets(scenario, step, rng)
        entries.append(Entry(step.at, step, "fire", targets, seeded))
        if isinstance(step.action, Fault) and step.action.seconds is not None:
            entries.append(Entry(step.at + step.action.seconds, step, "undo", targets, seeded))
    # At one moment an undo goes before a fire (a fault ends, then the next begins), then file order.
    ordered = sorted(entries, key=lambda e: (e.at, e.kind != "undo", e.step.index))
    return Plan(seed, tuple(ordered), scenario.end_at)
