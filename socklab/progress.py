"""Progress lines for long steps, on stderr so that stdout stays the result (tables, JSON)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

Progress = Callable[[str], None]


def quiet(_message: str) -> None:
    """A progress callback that says nothing."""


def to_stderr(prefix: str = "socklab") -> Progress:
    started = time.monotonic()

    def report(message: str) -> None:
        print(f"[{prefix} {time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    return report
