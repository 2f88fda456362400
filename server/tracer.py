"""Holding the server before its first socket until a tracer is attached (``SOCKLAB_WAIT_FOR_TRACER``).

A tracer (strace, ``socklab run --kernel``) can only attach to a process that runs, and the server makes
its socket, binds and listens within milliseconds of starting. So, when asked, it waits first: it reads
its own ``TracerPid`` (``/proc/self/status``: non-zero once a tracer holds it) every few milliseconds, and
goes on as soon as one is there, or after the bound, saying which in its log.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .log import Log

STATUS = "/proc/self/status"
POLL = 0.005  # seconds between two looks


def tracer_pid(path: str = STATUS) -> int:
    """The PID of the process tracing this one (0: none, or no /proc here)."""
    try:
        with open(path) as status:
            for line in status:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def wait_for_tracer(
    seconds: float,
    log: Log,
    *,
    read: Callable[[], int] = tracer_pid,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Wait up to ``seconds`` until a tracer is attached; its PID, or 0 (not asked, or none came)."""
    if seconds <= 0:
        return 0
    deadline = clock() + seconds
    while True:
        pid = read()
        if pid:
            log.line(f"tracer attached (pid {pid})")
            return pid
        if clock() >= deadline:
            log.line(f"no tracer attached within {seconds:g} s: going on")
            return 0
        sleep(POLL)
