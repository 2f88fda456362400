"""`make test` runs under xdist's loadgroup: the tests that must not share the engine's moment (swarm state,
crowds of 50 containers) are kept to one worker by ``xdist_group``. pytest 9.2 made xdist ignore those groups
without a word (pytest-xdist#1386); this fails if a pytest/xdist pair does that again."""

from __future__ import annotations

import re

import pytest

pytest_plugins = ["pytester"]


def test_a_group_runs_on_one_worker_while_the_rest_spread(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_grouped="""
        import pytest

        pytestmark = pytest.mark.xdist_group("engine-wide")

        @pytest.mark.parametrize("n", range(6))
        def test_grouped(n):
            pass
        """,
        test_free="""
        import pytest

        @pytest.mark.parametrize("n", range(6))
        def test_free(n):
            pass
        """,
    )
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadgroup", "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=12)
    ran = re.findall(r"\[(gw\d)\] .*PASSED (\S+)", result.stdout.str())
    grouped = {worker for worker, test in ran if "test_grouped" in test}
    assert len(grouped) == 1, f"the group was spread over {sorted(grouped)}:\n{result.stdout.str()}"
    assert {worker for worker, _ in ran} == {"gw0", "gw1"}, "the free tests did not spread"
