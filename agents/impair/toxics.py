"""Toxics, with Toxiproxy's names and meanings, as pure functions of a chunk of bytes and a random source.

- ``latency``: delay each chunk by ``latency`` ms ± ``jitter`` ms (order kept).
- ``slicer``: cut each chunk into pieces of ``average_size`` ± ``size_variation`` bytes, ``delay`` µs apart.
- ``timeout``: stop all data; close the connection after ``timeout`` ms (0: never) — a stall.
Each applies to the ``downstream`` (server to client), the ``upstream`` (client to server) or both.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any

STREAMS = ("upstream", "downstream")


@dataclass(frozen=True)
class Toxics:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    slice_average: int = 0  # bytes; 0: no slicing
    slice_variation: int = 0
    slice_delay_us: int = 0
    timeout_ms: float | None = None  # set: stall (and close after it, unless 0)
    streams: tuple[str, ...] = ("downstream",)

    def __post_init__(self) -> None:
        if self.latency_ms < 0 or self.jitter_ms < 0 or self.jitter_ms > self.latency_ms:
            raise ValueError("latency and jitter must be >= 0, jitter at most the latency")
        if self.slice_average < 0 or self.slice_variation < 0 or self.slice_variation >= max(self.slice_average, 1):
            raise ValueError("slicer: average_size >= 0 and size_variation < average_size")
        if not set(self.streams) <= set(STREAMS) or not self.streams:
            raise ValueError(f"streams must be among {STREAMS}")

    def describe(self) -> str:
        parts = []
        if self.latency_ms:
            parts.append(f"latency {self.latency_ms:g} ms ± {self.jitter_ms:g} ms")
        if self.slice_average:
            parts.append(f"slicer {self.slice_average} ± {self.slice_variation} bytes every {self.slice_delay_us} µs")
        if self.timeout_ms is not None:
            parts.append(f"timeout (stall) {self.timeout_ms:g} ms")
        return f"{', '.join(parts) or 'no toxics'} on {'+'.join(self.streams)}"


def delay_seconds(toxics: Toxics, rng: random.Random) -> float:
    """How long this chunk waits: latency ± jitter, uniformly."""
    if not toxics.latency_ms:
        return 0.0
    return max(0.0, toxics.latency_ms + rng.uniform(-toxics.jitter_ms, toxics.jitter_ms)) / 1000


def slices(data: bytes, toxics: Toxics, rng: random.Random) -> list[bytes]:
    """The chunk cut as the slicer cuts it (the whole chunk when there is no slicer)."""
    if not toxics.slice_average:
        return [data]
    pieces, start = [], 0
    while start < len(data):
        size = max(1, toxics.slice_average + rng.randint(-toxics.slice_variation, toxics.slice_variation))
        pieces.append(data[start : start + size])
        start += size
    return pieces


def from_dict(data: dict[str, Any]) -> Toxics:
    """The toxics a control message names (its fields, ``streams`` as a list); ValueError names what is wrong."""
    names = {field.name for field in dataclasses.fields(Toxics)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown toxic field(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    values = {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}
    try:
        return Toxics(**values)
    except TypeError as exc:
        raise ValueError(str(exc)) from exc
