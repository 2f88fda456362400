"""The image of a Docker-in-Docker swarm node, built from Debian packages (no registry here).

``debootstrap --variant=minbase`` with docker.io and what dockerd needs, trimmed, packed and ``docker import``-ed.
The image is cached: its tag carries a hash of the recipe (suite, packages, trim list, entry script), so it
is rebuilt exactly when the recipe changes, and it is labelled so that it can be found and removed.

The node runs without ``--privileged`` (which fails on this host: its bounding set lacks CAP_SYS_RESOURCE
and Docker 20.10 ignores ``--cap-drop`` with ``--privileged``); see ``cluster.NODE_RUN_OPTIONS``. Docker
mounts ``/sys`` and the cgroup controllers read-only in an unprivileged container, so the entry script
remounts them read-write before dockerd starts (the capabilities allow it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path

import docker
import docker.errors
from docker.models.images import Image

from socklab import hostpkg
from socklab.hostcmd import locked
from socklab.hostcmd import run as run_on_host
from socklab.images.errors import MissingTool
from socklab.lab.labels import PROJECT, PURPOSE
from socklab.progress import Progress, quiet

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("docker.io", "iptables", "iproute2", "procps", "tini")
REPOSITORY = "socklab/swarm-node"
NODE_PURPOSE = "swarm-node-image"
RECIPE_LABEL = "io.socklab.node-recipe"
SOCKET_DIR = "/run/socklab"  # the node's dockerd also listens here; the host bind-mounts it to reach the engine
CACHE_DIR = Path.home() / ".cache" / "socklab" / "swarm-node"

# Paths (relative to the root) a node never reads: documentation, locales, apt's state and caches.
TRIM = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/zoneinfo",
    "usr/share/bash-completion",
    "usr/share/zsh",
    "usr/share/fish",
    "usr/share/lintian",
    "var/lib/apt/lists",
    "var/cache/apt",
    "var/cache/debconf",
    "var/log",
    # Docker's and containerd's debugging and test tools, and the legacy shims (dockerd uses runc.v2).
    "usr/bin/dnet",
    "usr/sbin/ovrouter",
    "usr/bin/ctr",
    "usr/bin/containerd-shim",
    "usr/bin/containerd-shim-runc-v1",
)

ENTRY_SCRIPT = f"""#!/bin/sh
# A swarm node: Docker-in-Docker without --privileged. Docker mounted /sys and the cgroup controllers
# read-only; the capabilities the node runs with allow remounting them read-write, which dockerd needs.
set -eu
mount -o remount,rw /sys
for controller in /sys/fs/cgroup/*; do
    [ -L "$controller" ] || mount -o remount,bind,rw "$controller"
done
mkdir -p {SOCKET_DIR}
exec dockerd --storage-driver overlay2 --host unix:///var/run/docker.sock --host unix://{SOCKET_DIR}/docker.sock "$@"
"""

ENTRYPOINT = ["/usr/bin/tini", "--", "/usr/local/bin/socklab-node"]


class NodeImageError(RuntimeError):
    """The node image could not be built; the message names the step."""


def recipe_hash() -> str:
    """One hash over everything that decides the image's content: change any of it and the image is rebuilt."""
    recipe = {"suite": SUITE, "packages": PACKAGES, "trim": TRIM, "entry": ENTRY_SCRIPT, "entrypoint": ENTRYPOINT}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def node_tag() -> str:
    return f"{REPOSITORY}:{recipe_hash()}"


def import_changes(recipe: str) -> list[str]:
    labels = {PROJECT: "socklab", PURPOSE: NODE_PURPOSE, RECIPE_LABEL: recipe}
    return [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        *(f"LABEL {key}={json.dumps(value)}" for key, value in labels.items()),
        "VOLUME /var/lib/docker",
        f"ENTRYPOINT {json.dumps(ENTRYPOINT)}",
    ]


def _existing(client: docker.DockerClient, tag: str) -> Image | None:
    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None


def _ensure_debootstrap(progress: Progress, *, install_missing: bool) -> None:
    """debootstrap on the host; installed only with the user's consent, as the C witnesses' tools are."""
    if shutil.which("debootstrap", path="/usr/sbin:/usr/bin:/sbin:/bin"):
        return
    try:
        hostpkg.install(
            ["debootstrap"], why="the swarm's node image needs debootstrap", consent=install_missing, progress=progress
        )
    except MissingTool as exc:
        raise NodeImageError(str(exc)) from exc


def _trim(root: Path) -> None:
    for relative in TRIM:
        target = root / relative
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
            target.mkdir()  # keep the folder: some tools expect it to exist
        elif target.exists():
            target.unlink()


def ensure_node_image(client: docker.DockerClient, *, install_missing: bool = False, progress: Progress = quiet) -> str:
    """The node image's tag, built first when no image of the current recipe exists."""
    tag = node_tag()
    if _existing(client, tag) is not None:
        return tag
    # One build at a time (tests and the CLI may race for a cold cache).
    with locked(CACHE_DIR / "build.lock", what=f"the swarm node image {tag}", waiting=progress):
        if _existing(client, tag) is not None:  # built by whoever held the lock before us
            return tag
        _ensure_debootstrap(progress, install_missing=install_missing)
        started = time.monotonic()
        work = Path(tempfile.mkdtemp(prefix="socklab-swarm-node-"))
        try:
            root = work / "root"
            debs = CACHE_DIR / "debs"
            debs.mkdir(parents=True, exist_ok=True)
            progress(f"node image: debootstrap {SUITE} with {', '.join(PACKAGES)}")
            run_on_host(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(PACKAGES)}",
                    f"--cache-dir={debs}",
                    SUITE,
                    str(root),
                    MIRROR,
                ],
                what="debootstrap",
                error=NodeImageError,
            )
            _trim(root)
            for device in (root / "dev").iterdir():  # docker provides /dev
                if device.is_dir() and not device.is_symlink():
                    shutil.rmtree(device)
                else:
                    device.unlink()
            entry = root / "usr/local/bin/socklab-node"
            entry.write_text(ENTRY_SCRIPT)
            entry.chmod(0o755)
            tarball = work / "rootfs.tar"
            progress("node image: packing the root file system")
            run_on_host(
                ["tar", "--numeric-owner", "-C", str(root), "-cf", str(tarball), "."], what="tar", error=NodeImageError
            )
            repository, image_tag = tag.split(":")
            client.api.import_image(
                src=str(tarball), repository=repository, tag=image_tag, changes=import_changes(recipe_hash())
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        image = client.images.get(tag)
        size = image.attrs.get("Size", 0) / 1e6
        progress(f"node image: built {tag}, {size:.0f} MB in {time.monotonic() - started:.1f} s")
        return tag


def remove_node_images(client: docker.DockerClient) -> list[str]:
    """Remove every cached node image (any recipe, found by its label) that no container uses."""
    removed = []
    for image in client.images.list(filters={"label": f"{PURPOSE}={NODE_PURPOSE}"}):
        for tag in image.tags or [image.id]:
            with contextlib.suppress(docker.errors.APIError):  # in use by another cluster: it stays
                client.images.remove(tag)
                removed.append(tag)
    return removed
