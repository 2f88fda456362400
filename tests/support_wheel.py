"""Running what a user runs, outside this checkout: a command in a clean environment, its output checked."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from socklab import hostcmd
from socklab.paths import CHECKOUT

BUILD_TIMEOUT = 900
# What a checkout holds that is not the project: never copied into a build.
NOT_SOURCE = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".pytest_cache")


def clean_env() -> dict[str, str]:
    """The environment of a user's shell: none of this session's pytest, venv or import path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON", "VIRTUAL_ENV"))}
    env["TESTCONTAINERS_RYUK_DISABLED"] = "true"
    return env


def run(
    command: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = BUILD_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env={**clean_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def must(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, (
        f"{' '.join(done.args)} exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    )
    return done.stdout


def copy_of_checkout(where: Path) -> Path:
    """A copy of the checkout's sources (links kept as links), to build from without writing into the tree."""
    shutil.copytree(CHECKOUT, where, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    return where


def once(folder: Path, make: Callable[[Path], None]) -> Path:
    """``folder``, made by ``make(folder)`` by the first process of the run to ask; the others wait for it.

    A folder whose making failed is made again by the next one to ask (its marker is written last).
    """
    done = folder / ".made"
    with hostcmd.locked(folder.with_name(f".{folder.name}.lock"), what=str(folder)):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            make(folder)
            done.touch()
    return folder
