"""The C witnesses (agents/peers/): static musl binaries, compiled on the host before their images are built.

Static glibc cannot resolve names FROM scratch, so ``musl-gcc`` is required. Nothing is installed on the
host unless the user asks for it (``socklab images --install-missing``, which ``make`` passes): otherwise
a missing tool is named with the command that installs it (``socklab.hostpkg``).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

from socklab import hostcmd, hostpkg
from socklab.images.errors import BuildFailed
from socklab.paths import ROOT
from socklab.progress import Progress, quiet

__all__ = ["HOST_TOOLS", "PEERS", "build_peers", "missing_tools", "up_to_date"]

PEERS = ROOT / "agents" / "peers"

#: What compiling the peers needs on the host, and the Debian package that brings it.
HOST_TOOLS = {"make": "make", "gcc": "gcc", "musl-gcc": "musl-tools"}


def missing_tools(which: Callable[[str], str | None] = shutil.which) -> dict[str, str]:
    """The tools not on PATH, with their packages."""
    return {tool: package for tool, package in HOST_TOOLS.items() if which(tool) is None}


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "-C", str(PEERS), "--no-print-directory", *args], capture_output=True, text=True)


def up_to_date() -> bool:
    """Whether the C binaries exist and are newer than their sources (``make -q``: nothing to do)."""
    return not missing_tools() and _make("-q").returncode == 0


def build_peers(*, install_missing: bool = False, progress: Progress = quiet) -> None:
    """Compile agents/peers/build/server and agents/peers/build/client (``make -C agents/peers``)."""
    missing = missing_tools()
    if missing:
        why = f"the C witnesses need {', '.join(missing)} on this host (or leave the C images out with --no-c)"
        hostpkg.install(sorted(set(missing.values())), why=why, consent=install_missing, progress=progress)
    # Two builds at once (test workers, a command beside them) share one output folder: one at a time.
    with hostcmd.locked(PEERS / "build" / ".lock", what="the C binaries (make)", waiting=progress):
        done = _make()
    if done.returncode != 0:
        raise BuildFailed(f"building the C peers failed:\n{(done.stdout + done.stderr)[-2000:]}")
