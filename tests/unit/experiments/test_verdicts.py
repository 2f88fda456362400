"""The verdicts follow the numbers: the same experiment, other numbers, another verdict."""

from __future__ import annotations

from socklab.experiments.backlog import _differences


def variant(name, completed=3, drops=10, refused=0, reset=0):
    return {"variant": name, "completed": completed, "listen_drops": drops, "refused": refused, "reset": reset}


def test_linux_backlog_differs_from_the_lesson_in_three_ways():
    found = _differences([variant("default"), variant("slow_link_abort", reset=2)], backlog=2)
    assert found[0] == "backlog 2 held 3 completed connections"
    assert "not refused" in found[1]
    assert "only with tcp_abort_on_overflow=1" in found[2] and "(2 clients)" in found[2]


def test_a_kernel_that_refused_would_agree_with_the_lesson():
    found = _differences([variant("default", completed=2, drops=0, refused=6)], backlog=2)
    assert found == []


def test_no_reset_even_with_abort_on_overflow_is_said():
    found = _differences([variant("default"), variant("abort_on_overflow")], backlog=2)
    assert found[-1] == "even with tcp_abort_on_overflow=1 no client was reset"
