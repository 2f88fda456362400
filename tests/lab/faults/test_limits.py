"""Bad input and limits, against every server version (marked ``faults``: ``pytest -m faults``).

The rules and their labs are ``socklab.checks.bad_input.BAD_INPUT`` (what the plugin's
``--socklab-bad-input`` and ``socklab check --bad-input`` run too): connect and close, half close, 10 MB of
garbage, a reset during the delay, 1,000 idle connections, 2,000 connects at once, out of descriptors
(RLIMIT_NOFILE 40, 80 clients), fork under a pids limit (the Python fork model only; skipped, saying so,
on the others), no defunct after 500 connections. Each ends by asking the server a normal question.
"""

from __future__ import annotations

import pytest

from socklab.checks.bad_input import BAD_INPUT
from socklab.checks.contract import Rule, check_rule

pytestmark = [pytest.mark.lab, pytest.mark.faults]


@pytest.mark.parametrize("rule", BAD_INPUT, ids=[rule.id for rule in BAD_INPUT])
def test_bad_input(rule: Rule, server_image: str, client_image: str) -> None:
    result = check_rule(server_image, rule, client_image=client_image, purpose="test")
    if result.not_applicable:
        pytest.skip(result.not_applicable)
    if result.violation is not None:
        raise result.violation
