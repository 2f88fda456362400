"""The contract suite can fail: deliberately broken servers each break one rule, and the check for that
rule says so in plain words, with the server's log attached."""

from __future__ import annotations

import re

import pytest

from socklab.checks.contract import ContractViolation, check_concurrency, check_delay, check_plus_one
from socklab.lab.lab import Lab

pytestmark = pytest.mark.lab


@pytest.mark.parametrize(
    ("flaw", "delay", "check", "message"),
    [
        ("echo", 0, check_plus_one, "'A' -> 'B': answered 0x41 to 0x41, expected 0x42"),
        ("close", 0, check_plus_one, "'A' -> 'B': no answer to 0x41: the server closed the connection"),
        (
            "serial",
            2,
            lambda lab: check_concurrency(lab, 3),
            r"served concurrently: 3 clients took \d+\.\d s with delay 2: not served concurrently",
        ),
        (
            "late",
            1,
            check_delay,
            r"answer after the delay: answered after 3\.\d\d s with delay 1: more than delay \+ 1 s",
        ),
    ],
)
def test_a_broken_server_fails_the_rule_it_breaks(broken_images, client_image, flaw, delay, check, message):
    lab = Lab(server_image=broken_images[flaw], client_image=client_image, delay=delay, purpose="test")
    with lab, pytest.raises(ContractViolation) as violation:
        check(lab)
    text = str(violation.value)
    assert re.search(message if flaw in ("serial", "late") else re.escape(message), text), text
    assert f"--- server log (last lines) ---\nbroken server ({flaw}) listening on 9736" in text
