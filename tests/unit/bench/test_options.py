import pytest

from socklab.bench.options import FULL, QUICK, REFERENCES, BenchOptions


def test_the_references_are_always_measured() -> None:
    chosen = BenchOptions(versions=("async",)).chosen
    assert set(REFERENCES) <= set(chosen) and "async" in chosen and "fork" not in chosen


def test_unknown_version_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="choose from c-epoll"):
        BenchOptions(versions=("nginx",))


def test_quick_is_smaller_than_full() -> None:
    assert QUICK.rate_seconds <= FULL.rate_seconds and max(QUICK.held_levels) < max(FULL.held_levels)
