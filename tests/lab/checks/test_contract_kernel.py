"""The contract with the kernel observed (``--kernel``, ``socklab check --kernel``): the sidecars only watch, and an
attached strace, which stops the server at each of its system calls, must not cost it a rule. Every rule, and 3 and
10 clients at once, on the fork server and the C original by default, on every other model with ``-m slow``."""

from __future__ import annotations

import pytest

from socklab.checks.contract import RULES, check_rule, concurrency_rule

pytestmark = [pytest.mark.lab, pytest.mark.contract]

MODELS = [
    "fork",
    "c-fork",
    *(pytest.param(model, marks=pytest.mark.slow) for model in ("thread", "async", "epoll", "c-epoll")),
]
KERNEL_RULES = [*RULES, concurrency_rule(3, "concurrency-3"), concurrency_rule(10, "concurrency-10")]


@pytest.mark.parametrize("rule", KERNEL_RULES, ids=[rule.id for rule in KERNEL_RULES])
@pytest.mark.parametrize("model", MODELS)
def test_every_rule_holds_with_the_kernel_observed(model, rule, lab_images, tools_image):
    result = check_rule(lab_images.servers[model], rule, client_image=lab_images.client, purpose="test", kernel=True)
    assert result.passed, str(result.violation)
    seen = result.kernel_events
    assert seen["socket"] > 0 and seen["packet"] > 0 and seen["syscall"] > 0, seen  # it was observed
