"""The impairment proxy's toxics (Toxiproxy's names) as pure functions."""

from __future__ import annotations

import random

import pytest

from impair.toxics import Toxics, delay_seconds, slices


def test_latency_stays_within_the_jitter() -> None:
    toxics = Toxics(latency_ms=100, jitter_ms=20)
    rng = random.Random(7)
    delays = [delay_seconds(toxics, rng) for _ in range(500)]
    assert all(0.080 <= d <= 0.120 for d in delays)
    assert max(delays) - min(delays) > 0.03  # it really jitters


def test_no_latency_means_no_wait() -> None:
    assert delay_seconds(Toxics(), random.Random(1)) == 0.0


def test_the_slicer_cuts_without_losing_or_reordering_a_byte() -> None:
    data = bytes(range(256)) * 40
    pieces = slices(data, Toxics(slice_average=100, slice_variation=30), random.Random(3))
    assert b"".join(pieces) == data
    assert all(1 <= len(p) <= 130 for p in pieces)
    assert len(pieces) > 50


def test_without_a_slicer_a_chunk_stays_whole() -> None:
    assert slices(b"abc", Toxics(), random.Random(1)) == [b"abc"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"latency_ms": -1},
        {"latency_ms": 10, "jitter_ms": 20},
        {"slice_average": 10, "slice_variation": 10},
        {"streams": ("sideways",)},
    ],
)
def test_nonsense_is_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Toxics(**kwargs)


def test_the_description_says_what_runs() -> None:
    assert Toxics(latency_ms=100, jitter_ms=20).describe() == "latency 100 ms ± 20 ms on downstream"
    assert "timeout (stall) 0 ms" in Toxics(timeout_ms=0, streams=("upstream", "downstream")).describe()
