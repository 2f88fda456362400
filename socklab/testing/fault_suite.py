"""The fault rows, collected from the package with ``--socklab-faults`` (see plugin.py): one test per fault
the reliability suite runs (``socklab.faults.suite.SUITE``, names from ``socklab.faults.catalog``), each in a
lab of its own; none may lose an exchange."""

from __future__ import annotations

import pytest

from socklab.faults.suite import SUITE, SuiteSettings, run_fault
from socklab.faults.table import format_table


@pytest.mark.parametrize("fault", SUITE)
def test_fault(fault: str, socklab_server_image: str, socklab_client_image: str) -> None:
    row = run_fault(
        fault, server_image=socklab_server_image, client_image=socklab_client_image, settings=SuiteSettings()
    )
    assert row.ok, f"{fault} on {socklab_server_image}: exchanges were lost\n{format_table([row])}"
