"""Images from Debian packages: a root filesystem from a named set of packages, pruned by a policy,
imported as a single-layer image.

The lab machines have no container registry, so ``FROM python:3.11-slim`` cannot work. Instead an
image is assembled on the host: the policy's ``.deb`` files are fetched into a cache and unpacked
(``socklab.images.debs``), pruned to what the image is for, with every remaining program proven to
find its libraries (``tree``, ``libraries``), the standard library byte-compiled by the image's own
interpreter under ``chroot``, packed into a tar and imported with ``docker import``. Which packages and
what is pruned is the policy's business (``policies``: ``base`` and ``tools``).

Building needs root (for ``chroot``), ``apt-get`` and ``dpkg-deb`` on a Debian host of the image's
release and architecture, because the packages come from the host's apt sources.

    ensure_image(client, "tools", progress=...)   # -> "socklab/tools:latest", built when missing
    ensure_image(client, "base", force=True)      # rebuild
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import docker
import docker.errors
from docker.models.images import Image
from docker.utils import parse_repository_tag

from socklab import hostcmd
from socklab.images import debs, tree
from socklab.images.debs import DEFAULT_CACHE_DIR, ImageBuildError
from socklab.images.policies import BASE_TAG, TAGS, TOOLS_TAG, policy
from socklab.images.policy import ImagePolicy
from socklab.progress import Progress, quiet

__all__ = [
    "BASE_TAG",
    "DEFAULT_CACHE_DIR",
    "POLICY_LABEL",
    "TOOLS_TAG",
    "ImageBuildError",
    "base_exists",
    "build_base",
    "build_image",
    "ensure_image",
    "image_exists",
    "import_changes",
    "resolve_policy",
    "up_to_date",
]

#: The label holding the digest of the policy an image was built by: a changed policy rebuilds it.
POLICY_LABEL = "io.socklab.policy"


def resolve_policy(name: str | ImagePolicy, *, python: str | None = None) -> ImagePolicy:
    """A policy by name ("base", "tools") for *python* (default: the host release's Python), or as given."""
    if isinstance(name, ImagePolicy):
        return name
    return policy(name, python=python or debs.default_python())


def import_changes(
    image: ImagePolicy,
    *,
    python_version: str | None,
    versions: Mapping[str, str],
    extra_labels: Mapping[str, str] | None = None,
) -> list[str]:
    """Dockerfile instructions applied by ``docker import``.

    ``docker import`` makes an image without any config, so PATH, the locale, unbuffered output and the
    default command are set here. Labels record exactly which Debian package versions are inside, since
    there is no Dockerfile to look at. Values are JSON-quoted, which the Dockerfile parser accepts.
    """
    labels: dict[str, str] = {
        "org.opencontainers.image.title": image.title,
        "org.opencontainers.image.description": image.description,
    }
    if python_version:
        labels["io.socklab.python"] = python_version
    labels["io.socklab.debs"] = ",".join(f"{name}={ver}" for name, ver in versions.items())
    labels[POLICY_LABEL] = image.digest()
    labels.update(extra_labels or {})
    return [
        *(f"ENV {key}={value}" for key, value in image.env),
        *(f"LABEL {key}={json.dumps(value)}" for key, value in labels.items()),
        *([f"CMD {json.dumps(list(image.cmd))}"] if image.cmd else []),
    ]


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    """Whether *tag* is present locally (one cheap API call)."""
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def _up_to_date(client: docker.DockerClient, tag: str, name: str | ImagePolicy, python: str | None) -> bool:
    """Whether *tag* holds an image built by this version of its policy.

    Decided from the image's labels alone (no apt, so an image that was ``docker load``ed on a host
    without apt is used as it is): the Python version it was built for selects the policy to compare.
    An image without a policy label (built before the label existed, or loaded) is trusted as it is.
    """
    try:
        found = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    labels: dict[str, str] = found.labels or {}
    digest = labels.get(POLICY_LABEL)
    if digest is None:
        return True
    if isinstance(name, ImagePolicy):
        return digest == name.digest()
    version = python or ".".join(labels.get("io.socklab.python", "").split(".")[:2])
    return bool(version) and digest == policy(name, python=version).digest()


def up_to_date(client: docker.DockerClient, name: str) -> bool:
    """Whether image *name* ("base", "tools") is at its tag and was built by this version of its policy."""
    return _up_to_date(client, TAGS[name], name, None)


def ensure_image(
    client: docker.DockerClient,
    name: str | ImagePolicy,
    *,
    progress: Progress = quiet,
    tag: str | None = None,
    force: bool = False,
    python: str | None = None,
    labels: Mapping[str, str] | None = None,
    cache_dir: Path = DEFAULT_CACHE_DIR,
) -> str:
    """The tag of image *name* ("base", "tools"), built first when it is missing, was built by another
    version of its policy, or *force* is set. Concurrent callers build once (a lock per tag)."""
    if isinstance(name, str) and name not in TAGS:
        raise KeyError(f"no image policy {name!r}; known: {', '.join(TAGS)}")
    target = tag or (name.tag if isinstance(name, ImagePolicy) else TAGS[name])
    if not force and _up_to_date(client, target, name, python):
        return target
    lock = Path(cache_dir) / f".build-{re.sub(r'[^A-Za-z0-9_.-]', '_', target)}.lock"
    with hostcmd.locked(lock, what=f"the image {target}", waiting=progress):
        # Another process may have built it while we waited for the lock.
        if force or not _up_to_date(client, target, name, python):
            if not force and image_exists(client, target):
                progress(f"{target} was built by another version of its policy: rebuilding")
            build_image(client, name, tag=target, python=python, labels=labels, cache_dir=cache_dir, progress=progress)
    return target


def build_image(
    client: docker.DockerClient,
    name: str | ImagePolicy,
    *,
    tag: str | None = None,
    python: str | None = None,
    labels: Mapping[str, str] | None = None,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    progress: Progress = quiet,
) -> Image:
    """Build image *name* now (the force path), from the packages in *cache_dir*, and tag it.

    The root is assembled in a temporary folder that is always removed. *labels* are added to the
    standard ones (tests use it to mark throwaway images). The image the tag pointed to before is
    removed if nothing else uses it.
    """
    image = resolve_policy(name, python=python)
    target = tag or image.tag
    debs.check_host()
    started = time.monotonic()
    old_id = client.images.get(target).id if image_exists(client, target) else None
    files = debs.download(image.packages, cache_dir=Path(cache_dir), progress=progress)
    work = Path(tempfile.mkdtemp(prefix=f"socklab-{image.name}-"))
    try:
        root = work / "root"
        root.mkdir()
        versions = debs.extract(files, root, progress=progress)
        tree.prune(root, image, progress=progress)
        tree.compile_stdlib(root, image, progress=progress)
        tree.write_skeleton(root, image)
        python_version = tree.python_version(root, image) if image.python else None
        tarpath = work / "rootfs.tar"
        tree.write_tar(root, tarpath, image)
        progress(f"import: {debs.mb(tarpath.stat().st_size)} tar as {target}")
        changes = import_changes(image, python_version=python_version, versions=versions, extra_labels=labels)
        built = _import(client, tarpath, tag=target, changes=changes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if old_id is not None and old_id != built.id:
        _remove_if_dangling(client, old_id)
    with_python = f"Python {python_version}, " if python_version else ""
    size = debs.mb(built.attrs.get("Size", 0))
    progress(f"built {target}: {with_python}{size} in {time.monotonic() - started:.1f} s")
    return built


def _import(client: docker.DockerClient, tarpath: Path, *, tag: str, changes: list[str]) -> Image:
    """``docker import`` the tar under *tag* (the SDK streams the file)."""
    repository, image_tag = parse_repository_tag(tag)
    try:
        client.api.import_image(src=str(tarpath), repository=repository, tag=image_tag or "latest", changes=changes)
        return client.images.get(tag)
    except docker.errors.DockerException as exc:
        raise ImageBuildError(f"docker import of {tag} failed: {exc}") from exc


def _remove_if_dangling(client: docker.DockerClient, image_id: str) -> None:
    """Drop the image a rebuild replaced, if nothing else uses it (else every rebuild leaves a
    ``<none>`` image behind). An image still tagged elsewhere, used by a container or a parent of
    another image is left alone."""
    try:
        old = client.images.get(image_id)
        if not old.tags:
            client.images.remove(image_id)
    except docker.errors.APIError:
        pass


# The names the CLI and the image builds used before the builder became generic.


def base_exists(client: docker.DockerClient, tag: str = BASE_TAG) -> bool:
    return image_exists(client, tag)


def build_base(
    client: docker.DockerClient,
    *,
    tag: str = BASE_TAG,
    force: bool = False,
    progress: Progress = quiet,
) -> Image:
    """The Python base at *tag*, built when missing or stale (``socklab base [--force]``)."""
    return client.images.get(ensure_image(client, "base", tag=tag, force=force, progress=progress))
