"""Our own Ryuk: what a socklab process made is removed when that process dies, even by SIGKILL.

testcontainers' reaper is an image from a registry, which this machine cannot pull. So the first lab in
a process starts ``python -m socklab.lab.reaper`` in a session of its own, joined to its parent by a
pipe. The parent writes ``watch <run id>`` for every run it starts and ``done <run id>`` once it has
removed that run itself. When the pipe closes — a clean exit, an exception, Ctrl-C or SIGKILL alike —
the reaper removes every container, network, volume and image still labelled with a watched run.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

_process: subprocess.Popen[bytes] | None = None
_lock = threading.Lock()


def _send(line: str) -> None:
    global _process
    with _lock:
        if _process is None or _process.poll() is not None:
            _process = subprocess.Popen(
                [sys.executable, "-m", "socklab.lab.reaper"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in the terminal reaches our process group, not the reaper
                close_fds=True,
            )
            atexit.register(_close)
        assert _process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            _process.stdin.write(line.encode() + b"\n")
            _process.stdin.flush()


def watch(run_id: str) -> None:
    """Remove everything labelled ``run_id`` if this process dies before calling ``done``."""
    _send(f"watch {run_id}")


def done(run_id: str) -> None:
    """This process removed ``run_id`` itself; the reaper forgets it."""
    _send(f"done {run_id}")


def _close() -> None:
    if _process is not None and _process.stdin is not None:
        with contextlib.suppress(OSError):
            _process.stdin.close()


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Let a cleanup finish: a Ctrl-C that arrives meanwhile is raised after it, not in the middle."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _reap() -> None:
    """The reaper's own loop: read the parent's lines until the pipe closes, then remove what is left."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watched: set[str] = set()
    for raw in sys.stdin:
        verb, _, run_id = raw.strip().partition(" ")
        if verb == "watch" and run_id:
            watched.add(run_id)
        elif verb == "done":
            watched.discard(run_id)
    if not watched:
        return
    import docker

    from socklab.lab.labels import remove_run

    client = docker.from_env()
    for run_id in sorted(watched):
        with contextlib.suppress(Exception):  # best effort: one failing run must not spare the others
            remove_run(client, run_id)


if __name__ == "__main__":
    os.umask(0o077)
    _reap()
