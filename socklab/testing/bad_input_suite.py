"""The bad-input rows, collected from the package with ``--socklab-bad-input`` (see plugin.py): one test per
rule of ``socklab.checks.bad_input.BAD_INPUT`` (garbage, resets, idle connections, bursts, descriptor and
process limits), each in a lab of its own, reported exactly as the contract's rows; a rule only one model
promises is skipped on other images, saying so."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from socklab.checks.bad_input import BAD_INPUT
from socklab.checks.contract import Rule
from socklab.testing.rows import hold


@pytest.mark.parametrize("rule", BAD_INPUT, ids=[rule.id for rule in BAD_INPUT])
def test_bad_input(
    rule: Rule, socklab_server_image: str, socklab_client_image: str, socklab_attach: Callable[[str, str], None]
) -> None:
    hold(rule, socklab_server_image, socklab_client_image, socklab_attach)
