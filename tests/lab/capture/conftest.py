from __future__ import annotations

import pytest
from opt_in import skip_unless_selected


def pytest_runtest_setup(item: pytest.Item) -> None:
    skip_unless_selected(item)
