"""The contract's tests, collected from the package when ``--socklab-image`` is given (see plugin.py).

One test per rule of ``socklab.checks.contract.RULES``, each in a lab of its own (``check_rule``, the
library ``socklab check`` uses); a broken rule fails with the ``ContractViolation`` that names it, and the
server's log goes in the report. ``--socklab-bad-input`` adds the bad-input rows (bad_input_suite.py),
``--socklab-faults`` one row per fault of the reliability suite.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from socklab.checks.contract import RULES, Rule
from socklab.testing.rows import hold


@pytest.mark.parametrize("rule", RULES, ids=[rule.id for rule in RULES])
def test_contract(
    rule: Rule, socklab_server_image: str, socklab_client_image: str, socklab_attach: Callable[[str, str], None]
) -> None:
    hold(rule, socklab_server_image, socklab_client_image, socklab_attach)
