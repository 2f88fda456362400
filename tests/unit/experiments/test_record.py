from __future__ import annotations

from socklab.experiments.record import AGREES, Result


def test_no_difference_means_the_lesson_holds():
    result = Result("x", "claim", numbers={"n": 1})
    assert result.agrees and result.verdict == AGREES
    assert result.as_json()["verdict"] == AGREES
    assert result.as_json()["n"] == 1  # the numbers at the top level: `jq .completed`


def test_differences_make_one_line_verdict():
    result = Result("x", "claim", differences=["a", "b"])
    assert not result.agrees
    assert result.verdict == "Linux differs: a; b"
    assert "\n" not in result.verdict
    assert result.text().endswith("verdict: Linux differs: a; b")
