"""The tools image the fault sidecars run (python3, iproute2, iptables), and the agent copied into them.

The agent (``sidecar/``, stdlib only) is put into each sidecar with ``put_archive`` before it starts,
rather than baked into an image derived from the tools image: nothing more to build or tag, the agent
is always the one of the socklab that runs it (never a stale copy), and any image with python3,
iproute2 and iptables can serve (``SOCKLAB_TOOLS_IMAGE``).
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import docker
import docker.errors

from socklab.paths import ROOT
from socklab.progress import Progress, quiet
from wire.knobs import env_name

TOOLS_TAG = "socklab/tools:latest"
AGENT_HOME = "/opt/socklab"  # where the agent packages go inside a sidecar (PYTHONPATH)
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ToolsUnavailable(RuntimeError):
    """No tools image, and it cannot be built here."""


def tools_image(client: docker.DockerClient, progress: Progress = quiet) -> str:
    """The tools image's tag: ``SOCKLAB_TOOLS_IMAGE``, else ``socklab/tools:latest`` (built when missing)."""
    tag = os.environ.get(env_name("tools_image"), TOOLS_TAG)
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    if tag != TOOLS_TAG:
        raise ToolsUnavailable(f"the tools image {tag} ({env_name('tools_image')}) does not exist")
    try:
        from socklab.images import tools  # type: ignore[attr-defined]  # the images capability's builder
    except ImportError as exc:
        raise ToolsUnavailable(f"{TOOLS_TAG} is missing and this socklab cannot build it") from exc
    tools.ensure_image(client, "tools", progress=progress)
    return tag


def package_archive(*packages: str) -> bytes:
    """A tar of our stdlib-only packages (``sidecar``, ``impair``) under AGENT_HOME, for ``put_archive`` at /."""
    buffer = io.BytesIO()
    home = AGENT_HOME.strip("/")
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        folders = [str(Path(home).parents[i]) for i in range(len(Path(home).parts) - 1)][::-1]
        for folder in [*folders, home, *(f"{home}/{package}" for package in packages)]:
            entry = tarfile.TarInfo(folder)
            entry.type, entry.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(entry)
        for package in packages:
            for path in sorted(Path(ROOT, package).glob("*.py")):
                tar.add(path, arcname=f"{home}/{package}/{path.name}")
    return buffer.getvalue()
