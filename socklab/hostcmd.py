"""Programs and locks on this host (not in a container), shared by the image builders and the swarm."""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path


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


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (made if missing): one holder at a time across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
