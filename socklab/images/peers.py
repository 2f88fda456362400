"""The C witnesses (agents/peers/): static musl binaries, compiled on the host before their images are built.

Static glibc cannot resolve names FROM scratch, so ``musl-gcc`` is required. Nothing is installed on the
host unless the user asks for it (``socklab images --install-missing``, which ``make`` passes): otherwise
a missing tool is named with the command that installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable

from socklab import hostcmd
from socklab.images.errors import BuildFailed, MissingTool
from socklab.paths import ROOT
from socklab.progress import Progress, quiet

__all__ = ["HOST_TOOLS", "PEERS", "build_peers", "install_command", "missing_tools"]

PEERS = ROOT / "agents" / "peers"

#: What compiling the peers needs on the host, and the Debian package that brings it.
HOST_TOOLS = {"make": "make", "gcc": "gcc", "musl-gcc": "musl-tools"}


def missing_tools(which: Callable[[str], str | None] = shutil.which) -> dict[str, str]:
    """The tools not on PATH, with their packages."""
    return {tool: package for tool, package in HOST_TOOLS.items() if which(tool) is None}


def install_command(packages: list[str]) -> list[str]:
    return ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]


def _install(packages: list[str], progress: Progress) -> None:
    command = install_command(packages)
    if os.geteuid() != 0:
        raise MissingTool(f"installing {', '.join(packages)} needs root: run `sudo {' '.join(command)}`")
    progress(f"installing on this host, as asked: {' '.join(command)}")
    if subprocess.run(command, capture_output=True).returncode != 0:
        # The usual cause is missing or outdated package lists.
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=False)
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise MissingTool(f"`{' '.join(command)}` failed: {done.stderr.strip()[-1000:]}")


def build_peers(*, install_missing: bool = False, progress: Progress = quiet) -> None:
    """Compile agents/peers/build/server and agents/peers/build/client (``make -C agents/peers``)."""
    missing = missing_tools()
    if missing:
        packages = sorted(set(missing.values()))
        if not install_missing:
            raise MissingTool(
                f"the C witnesses need {', '.join(missing)} on this host: install them with "
                f"`sudo {' '.join(install_command(packages))}`, or pass --install-missing to let socklab "
                "do it, or leave the C images out with --no-c"
            )
        _install(packages, progress)
    with hostcmd.locked(PEERS / "build" / ".lock"):  # two builds at once (test workers) share one output folder
        done = subprocess.run(["make", "-C", str(PEERS), "--no-print-directory"], capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildFailed(f"building the C peers failed:\n{(done.stdout + done.stderr)[-2000:]}")
