"""Running what a user runs, outside this checkout: a command in a clean environment, its output checked."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

BUILD_TIMEOUT = 900


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
