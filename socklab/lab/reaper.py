"""Our own Ryuk: what a socklab process made is removed when that process dies, even by SIGKILL.

testcontainers' reaper is an image from a registry, which this machine cannot pull. So the first lab in
a process starts ``python -m socklab.lab.reaper`` in a session of its own, joined to its parent by a
pipe. The parent writes ``watch <run id>`` for every run it starts and ``done <run id>`` once it has
removed that run itself. When the pipe closes — a clean exit, an exception, Ctrl-C or SIGKILL alike —
the reaper removes every container, network, volume and image still labelled with a watched run, and
performs the undos a process fault registered and did not get to do itself (unpause, start, reconnect).
At a normal exit the process waits for its reaper (``_close``): nothing is left to finish after it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

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


def undo_on_death(key: str, action: dict[str, Any]) -> None:
    """If this process dies before ``forget(key)``, the reaper performs ``action`` (see ``_perform``).

    For faults that have no sidecar to own their undo (pause, stop, kill, disconnect through the SDK):
    ``action`` names the container and what brings it back, and ``at`` (POSIX time) when, for a timed one.
    """
    _send(f"undo {key} {json.dumps(action)}")


def forget(key: str) -> None:
    """The undo registered under ``key`` was done by this process."""
    _send(f"forget {key}")


def watch(run_id: str) -> None:
    """Remove everything labelled ``run_id`` if this process dies before calling ``done``."""
    _send(f"watch {run_id}")


def done(run_id: str) -> None:
    """This process removed ``run_id`` itself; the reaper forgets it."""
    _send(f"done {run_id}")


EXIT_WAIT = 120.0  # seconds a process that exits normally waits for its reaper to finish


def _close() -> None:
    """At a normal exit: close the pipe and wait until the reaper is done, so that whatever it still has to
    remove (a run the engine refused to remove in time) is gone when the command has returned."""
    if _process is not None and _process.stdin is not None:
        with contextlib.suppress(OSError):
            _process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            _process.wait(timeout=EXIT_WAIT)


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


def _perform(client: Any, action: dict[str, Any]) -> None:
    """Bring a container back: start it, unpause it, or connect it to a network with its aliases."""
    delay = float(action.get("at") or 0) - time.time()
    if delay > 0:
        time.sleep(delay)  # a timed fault keeps its time, as its holder would have
    container = client.containers.get(action["container"])
    if action["op"] == "unpause":
        container.unpause()
    elif action["op"] == "start":
        container.start()
    elif action["op"] == "connect":
        client.networks.get(action["network"]).connect(container, aliases=action.get("aliases") or None)


def _reap() -> None:
    """The reaper's own loop: read the parent's lines until the pipe closes, then undo and remove what is left."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watched: set[str] = set()
    undos: dict[str, dict[str, Any]] = {}
    for raw in sys.stdin:
        verb, _, rest = raw.strip().partition(" ")
        if verb == "watch" and rest:
            watched.add(rest)
        elif verb == "done":
            watched.discard(rest)
        elif verb == "undo":
            key, _, action = rest.partition(" ")
            with contextlib.suppress(ValueError):
                undos[key] = json.loads(action)
        elif verb == "forget":
            undos.pop(rest, None)
    if not watched and not undos:
        return
    import docker

    from socklab.lab.labels import remove_run

    client = docker.from_env()
    for action in sorted(undos.values(), key=lambda a: float(a.get("at") or 0)):
        with contextlib.suppress(Exception):  # best effort: one failing undo must not spare the others
            _perform(client, action)
    for run_id in sorted(watched):
        with contextlib.suppress(Exception):
            remove_run(client, run_id)


if __name__ == "__main__":
    os.umask(0o077)
    _reap()
