"""What one ``socklab bench`` run measured: filled in by ``run``, written by ``report``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from socklab.bench import measure, startup


@dataclass
class BenchResults:
    quick: bool
    versions: tuple[str, ...]
    machine: dict[str, str]
    rates: list[measure.RateRow] = field(default_factory=list)  # one per version: medians over rounds
    loader_check: list[measure.RateRow] = field(default_factory=list)
    rate_rounds: dict[str, list[measure.RateRow]] = field(default_factory=dict)  # version (or "c-epoll×2")
    latency: list[measure.LatencyRow] = field(default_factory=list)
    held: list[measure.HeldRow] = field(default_factory=list)
    startup: list[startup.StartupRow] = field(default_factory=list)
    image_sizes: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = math.nan

    def to_json(self) -> dict[str, Any]:
        return {
            "quick": self.quick,
            "versions": list(self.versions),
            "machine": self.machine,
            "rates": [r.to_json() for r in self.rates],
            "loader_check": [r.to_json() for r in self.loader_check],
            "latency": [r.to_json() for r in self.latency],
            "held": [r.to_json() for r in self.held],
            "startup": [r.to_json() for r in self.startup],
            "image_sizes": self.image_sizes,
            "skipped": self.skipped,
            "failures": self.failures,
            "seconds": self.seconds,
        }
