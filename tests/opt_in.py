"""Tests marked ``experiments`` run only when asked for (``pytest -m experiments``): they are the slow ones."""

from __future__ import annotations

import pytest


def skip_unless_selected(item: pytest.Item, marker: str = "experiments") -> None:
    if item.get_closest_marker(marker) and marker not in (item.config.getoption("markexpr") or ""):
        pytest.skip(f"slow: run with -m {marker}")
