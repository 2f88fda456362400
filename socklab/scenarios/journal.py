"""What a scenario run did, as records: each step's planned and actual moment, each probe's value; and the
two forms it leaves: the JSON journal (``--json``) and JUnit XML (``--junit FILE.xml``: one test case per
probe and phase, plus one for the steps, for any CI)."""

from __future__ import annotations

import math
import statistics
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socklab.scenarios.model import Check, Scenario, spoken
from socklab.scenarios.plan import NOT_SEEDED, SEEDED, Plan
from socklab.scenarios.scheduler import LATE


@dataclass
class StepRecord:
    name: str  # "cut fault", "method[3] swap", "cut undo"
    index: int  # the step's place in the file's method
    kind: str  # fire, undo
    action: str  # the step in words
    planned: float  # offset from the method's start, seconds
    fired: float | None = None  # when its action began
    ready: float | None = None  # when what it needed was made ready (its clients at the barrier, its agents armed)
    effective: float | None = None  # when it took effect (a fault applied, the clients let go, the new server up)
    targets: list[str] = field(default_factory=list)
    seeded: bool = False
    said: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def lateness(self) -> float | None:
        return None if self.fired is None else self.fired - self.planned

    @property
    def late(self) -> bool:
        return self.lateness is not None and self.lateness > LATE

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "index": self.index,
            "kind": self.kind,
            "action": self.action,
            "planned": _round(self.planned),
            "fired": _round(self.fired),
            "ready": _round(self.ready),
            "lateness": _round(self.lateness),
            "late": self.late,
            "effective": _round(self.effective),
            "effect_lateness": _round(None if self.effective is None else self.effective - self.planned),
            "targets": self.targets,
            "seeded": self.seeded,
            "said": self.said,
            "error": self.error,
        }

    def line(self) -> str:
        fired = "never" if self.fired is None else f"{self.fired:7.3f}s"
        late = f"  LATE by {self.lateness:.3f} s" if self.late and self.lateness is not None else ""
        effect = "" if self.effective is None else f"  in effect at {self.effective:.3f}s"
        if self.effective is not None and self.effective - self.planned > LATE:
            effect += f" ({(self.effective - self.planned) * 1000:.0f} ms after its moment"
            effect += f"; ready at {self.ready:.3f}s)" if self.ready is not None else ")"
        error = f"  FAILED: {self.error}" if self.error else ""
        on = f" on {', '.join(self.targets)}" if self.targets else ""
        return f"  {self.planned:7.3f}s planned, {fired} fired  {self.action}{on}{effect}{late}{error}"


@dataclass
class ProbeRecord:
    phase: str  # before, after, run, or "method at 11s"
    check: Check
    value: float | None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.check.tolerance.holds(self.value)

    @property
    def name(self) -> str:
        return f"{self.phase}: {self.check.describe()}"

    def verdict(self) -> str:
        value = "nothing to measure" if self.value is None else f"{self.value:g}"
        held = "held" if self.ok else "FAILED"
        return f"{self.check.probe} {held} {self.phase}: {value} ({self.check.tolerance}; {self.detail})"

    def as_json(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "probe": self.check.probe,
            "value": self.value,
            "at_least": self.check.tolerance.at_least,
            "at_most": self.check.tolerance.at_most,
            "ok": self.ok,
            "detail": self.detail,
        }


@dataclass
class VersionRun:
    server: str
    image: dict[str, Any] = field(default_factory=dict)  # id and digests
    started: float | None = None  # POSIX time of the method's start
    steps: list[StepRecord] = field(default_factory=list)
    probes: list[ProbeRecord] = field(default_factory=list)
    rollbacks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def failed_steps(self) -> list[StepRecord]:
        return [step for step in self.steps if step.error]

    @property
    def failed_probes(self) -> list[ProbeRecord]:
        return [probe for probe in self.probes if not probe.ok]

    @property
    def ok(self) -> bool:
        return not self.interrupted and not self.failed_probes and not self.failed_steps

    def lateness(self) -> list[float]:
        return [s.lateness for s in self.steps if s.lateness is not None]

    def timeline(self) -> str:
        return "\n".join(step.line() for step in self.steps)

    def verdict(self) -> str:
        if self.interrupted:
            return f"{self.server}: interrupted; rollbacks done"
        if self.ok:
            late = [s for s in self.steps if s.late]
            worst = max(self.lateness(), default=0.0)
            return (
                f"{self.server}: the hypothesis held ({len(self.probes)} checks); {len(self.steps)} steps, "
                f"the latest {worst * 1000:.0f} ms after its moment{f', {len(late)} late' if late else ''}"
            )
        said = [p.verdict() for p in self.failed_probes] + [
            f"step {s.name} failed: {s.error}" for s in self.failed_steps
        ]
        return f"{self.server}: " + "; ".join(said)

    def as_json(self) -> dict[str, Any]:
        lateness = self.lateness()
        return {
            "server": self.server,
            "image": self.image,
            "ok": self.ok,
            "interrupted": self.interrupted,
            "started": self.started,
            "steps": [step.as_json() for step in self.steps],
            "probes": [probe.as_json() for probe in self.probes],
            "lateness": {
                "median": _round(statistics.median(lateness)) if lateness else None,
                "max": _round(max(lateness)) if lateness else None,
                "late": sum(s.late for s in self.steps),
                "threshold": LATE,
            },
            "rollbacks": self.rollbacks,
            "notes": self.notes,
        }


@dataclass
class Journal:
    scenario: Scenario
    plan: Plan
    engine: dict[str, Any] = field(default_factory=dict)
    runs: list[VersionRun] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(run.ok for run in self.runs)

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "file": self.scenario.file,
            "seed": self.plan.seed,
            "seeded": list(SEEDED),
            "not_seeded": list(NOT_SEEDED),
            "plan": self.plan.summary(),
            "end": self.plan.end_at,
            "engine": self.engine,
            "ok": self.ok,
            "runs": [run.as_json() for run in self.runs],
        }


def _round(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 4)


def write_junit(journal: Journal, path: str | Path) -> Path:
    """One test suite per server version; a test case per probe and phase, and one for the steps."""
    suites = ET.Element("testsuites", name=f"socklab scenario {journal.scenario.name}")
    for run in journal.runs:
        cases = [(probe.name, probe.ok, probe.verdict(), probe.detail) for probe in run.probes]
        failed = run.failed_steps
        steps_said = "; ".join(f"{s.name}: {s.error}" for s in failed)
        cases.append(("steps fired as planned", not failed, steps_said or "every step fired", run.timeline()))
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"{journal.scenario.name} [{run.server}]",
            tests=str(len(cases)),
            failures=str(sum(not ok for _, ok, _, _ in cases)),
            errors="0",
            skipped="0",
        )
        classname = f"scenario.{journal.scenario.name.replace(' ', '_')}.{run.server}"
        for name, ok, message, detail in cases:
            case = ET.SubElement(suite, "testcase", classname=classname, name=name, time="0")
            if not ok:
                ET.SubElement(case, "failure", message=message, type="ProbeFailed").text = detail
        ET.SubElement(suite, "system-out").text = (
            f"seed {journal.plan.seed}\n{run.timeline()}\nrollbacks:\n" + "\n".join(run.rollbacks)
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
    return path


def summary(journal: Journal) -> str:
    """What the command prints: the seed, each version's timeline, its probes and its verdict."""
    lines = [f"scenario {journal.scenario.name} (seed {journal.plan.seed}, end at {spoken(journal.plan.end_at)})"]
    for run in journal.runs:
        lines += [f"{run.server}:", run.timeline()]
        lines += [f"  {probe.verdict()}" for probe in run.probes]
        lines.append(run.verdict())
    return "\n".join(lines)
