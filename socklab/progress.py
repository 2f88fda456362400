"""Progress lines for long steps, on stderr so that stdout stays the result (tables, JSON)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

Progress = Callable[[str], None]


def quiet(_message: str) -> None:
    """A progress callback that says nothing."""


_write_lock = threading.Lock()  # images build side by side: one line at a time, never two on one line


def to_stderr(prefix: str = "socklab") -> Progress:
    started = time.monotonic()

    def report(message: str) -> None:
        line = f"[{prefix} {time.monotonic() - started:6.1f}s] {message}\n"
        with _write_lock:
            sys.stderr.write(line)
            sys.stderr.flush()

    return report
