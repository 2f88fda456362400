"""The probes image: ``agents/probes/`` (stdlib-only instruments) on ``socklab/base``, tagged by its content.

An image rather than copying files into running containers: the base has no shell, every experiment
starts several containers from the same programs, and a layer on the 15 MB base costs a second to build
once, while a copy into each container would cost a tar upload per container per run. The tag is a hash
of the sources, so an edited probe is rebuilt and an unchanged one is reused (in milliseconds).
"""

from __future__ import annotations

import hashlib

import docker

from socklab import hostcmd
from socklab.images.build import ImageSpec, build, ensure_base
from socklab.images.rootfs import BASE_TAG, image_exists
from socklab.paths import ROOT
from socklab.progress import Progress, quiet

PROBES = ROOT / "agents" / "probes"
REPOSITORY = "socklab/probes"


def source_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in PROBES.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(PROBES).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def ensure_probes_image(
    client: docker.DockerClient,
    *,
    tag: str | None = None,
    base_image: str = BASE_TAG,
    labels: dict[str, str] | None = None,
    progress: Progress = quiet,
) -> str:
    """Build the probes image unless ``tag`` (default: ``socklab/probes:<source hash>``) exists; return it."""
    tag = tag or f"{REPOSITORY}:{source_hash()}"
    if image_exists(client, tag):
        return tag
    with hostcmd.locked(hostcmd.lock_file(f"image-{tag}"), what=f"the probes image {tag}", waiting=progress):
        if image_exists(client, tag):  # built by whoever held the lock before us
            return tag
        ensure_base(client, base_image, progress)
        spec = ImageSpec(tag, "Dockerfile", {"BASE_IMAGE": base_image}, context=PROBES)
        build(client, spec, labels=labels, progress=progress)
    return tag
