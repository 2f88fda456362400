"""The common result of every experiment: what it did, what the lesson claims, what the kernel showed.

The verdict is one line, "as the lesson says" or "Linux differs: …", decided from the numbers (``numbers``
is what ``--json`` prints and what the tests check), never from the prose around them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

AGREES = "as the lesson says"


@dataclass
class Result:
    experiment: str
    claim: str  # the lesson's words
    did: list[str] = field(default_factory=list)  # what the experiment did, step by step
    observed: list[str] = field(default_factory=list)  # what came out, in words, with the numbers
    numbers: dict[str, Any] = field(default_factory=dict)  # the kernel's numbers (and ours), machine-readable
    differences: list[str] = field(default_factory=list)  # where Linux did not do what the lesson says
    files: list[str] = field(default_factory=list)  # plots written
    seconds: float = 0.0

    @property
    def agrees(self) -> bool:
        return not self.differences

    @property
    def verdict(self) -> str:
        return AGREES if self.agrees else "Linux differs: " + "; ".join(self.differences)

    def as_json(self) -> dict[str, Any]:
        """The record with its numbers at the top level (``jq .completed``), then the verdict."""
        record = asdict(self)
        numbers = record.pop("numbers")
        clash = set(numbers) & set(record)
        assert not clash, f"numbers named like the record's own fields: {clash}"
        return {**record, **numbers, "agrees": self.agrees, "verdict": self.verdict}

    def text(self) -> str:
        lines = [f"experiment {self.experiment} ({self.seconds:.1f} s)", "", "what it did:"]
        lines += [f"  - {step}" for step in self.did]
        lines += ["", f"the lesson says: {self.claim}", "", "observed:"]
        lines += [f"  {line}" for line in self.observed]
        lines += [f"  picture: {path}" for path in self.files]
        lines += ["", f"verdict: {self.verdict}"]
        return "\n".join(lines)


def seconds_between(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else round(end - start, 3)
