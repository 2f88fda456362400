"""Programs and locks on this host (not in a container), shared by the image builders and the swarm.

A thing socklab prepares once per machine (an image, the Compose plugin, Debian packages, the C binaries) is
prepared under a lock of its own, across processes: whoever comes second waits, says so, and then finds it
done. ``lock_file(name)`` is where such a lock lives when the thing has no folder of its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from socklab.wire.knobs import env_name

#: Locks shared by every socklab process of this machine, whoever's HOME it runs with.
LOCK_DIR = Path(os.environ.get(env_name("lock_dir")) or Path(tempfile.gettempdir()) / "socklab-locks")


def run(
    cmd: Sequence[str],
    *,
    what: str,
    error: type[Exception] = RuntimeError,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    tail: int = 2000,
) -> str:
    """Run ``cmd`` and return its stdout; a failure raises ``error`` naming ``what``, with the output's tail.

    ``env``: the whole environment (None: this process's own).
    """
    try:
        done = subprocess.run(
            list(cmd), cwd=cwd, env=None if env is None else dict(env), capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise error(f"{what}: cannot run {cmd[0]}: {exc}") from exc
    if done.returncode != 0:
        raise error(f"{what} failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-tail:]}")
    return done.stdout


def lock_file(name: str) -> Path:
    """The machine-wide lock file for the thing called ``name`` (any text; made safe as a file name)."""
    return LOCK_DIR / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.lock"


@contextlib.contextmanager
def locked(path: Path, *, what: str = "", waiting: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (made if missing): one holder at a time across processes.

    When another process holds it, ``waiting`` (a progress callback) is told once what we wait for, and we
    wait for as long as it takes: that process is preparing the very thing we need.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                waiting(f"waiting for {what or path.name}: another socklab process or thread holds it ({path})")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
