"""One row of the plugin's suites: a rule held in a lab of its own, as a pytest test."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from socklab.checks.contract import Rule, check_rule


def hold(rule: Rule, server_image: str, client_image: str, attach: Callable[[str, str], None]) -> None:
    """Check ``rule`` (``check_rule``, the library ``socklab check`` uses): a broken rule raises the
    ``ContractViolation`` that names it with the server's log attached to the report; a rule that does not
    apply to the image is skipped, saying why (never a silent pass)."""
    result = check_rule(server_image, rule, client_image=client_image)
    if result.not_applicable:
        pytest.skip(f"not applicable to {server_image}: {result.not_applicable}")
    if result.violation is not None:
        attach(f"socklab server log ({server_image}, rule {rule.id})", result.server_log)
        raise result.violation
