"""Debian packages on the host: download them into a cache, unpack them into a folder.

The lab machines have no container registry, but the host's own package mirror is reachable: the
``.deb`` files are fetched with ``apt-get download`` (nothing is installed on the host) and unpacked
with ``dpkg-deb -x`` (no maintainer scripts run in the foreign root). Warm builds reuse the cache and
need no network. This must run on a Debian host of the image's release and architecture.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from socklab import hostcmd, hostpkg
from socklab.images.errors import BuildFailed
from socklab.progress import Progress

__all__ = [
    "DEFAULT_CACHE_DIR",
    "ImageBuildError",
    "check_host",
    "default_python",
    "download",
    "extract",
    "mb",
    "run",
    "tree_size",
]

#: Where downloaded .debs are kept between builds (warm builds are offline).
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "socklab" / "debs"


class ImageBuildError(BuildFailed):
    """An image could not be built from Debian packages; the message says which step failed."""


def mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def run(cmd: Sequence[str], *, cwd: Path | None = None, what: str) -> str:
    """Run *cmd* and return its stdout; a failure becomes ImageBuildError with the output's tail.

    The environment is minimal and fixed, so the host user's PYTHON* or locale variables cannot
    change what a chrooted interpreter does.
    """
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    return hostcmd.run(cmd, cwd=cwd, env=env, what=what, error=ImageBuildError)


def check_host() -> None:
    """Fail early and clearly instead of half-way through a build."""
    if os.geteuid() != 0:
        raise ImageBuildError(
            "building an image from Debian packages needs root (chroot runs the image's own "
            "interpreter and loader to compile the standard library and check the libraries)"
        )
    for tool in ("apt-get", "apt-cache", "dpkg-deb", "dpkg", "chroot"):
        if shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
            raise ImageBuildError(f"building an image from Debian packages needs {tool} on the host")


def default_python() -> str:
    """The Python version ("3.11") of the host release's ``python3``: what its mirror has."""
    listing = run(["apt-cache", "depends", "python3-minimal"], what="apt-cache depends python3-minimal")
    found = re.search(r"\bpython(3\.\d+)-minimal\b", listing)
    if not found:
        raise ImageBuildError(f"cannot tell the host release's Python version from: {listing.strip()[:200]}")
    return found.group(1)


def _cached_deb(cache_dir: Path, package: str, arch: str) -> Path | None:
    """Newest cached .deb of *package* (file names are name_version_arch)."""
    hits = [path for path in cache_dir.glob(f"{package}_*.deb") if path.name.endswith((f"_{arch}.deb", "_all.deb"))]
    return max(hits, key=lambda path: path.stat().st_mtime, default=None)


def download(packages: Sequence[str], *, cache_dir: Path, progress: Progress) -> dict[str, Path]:
    """Make sure a .deb of every package is in *cache_dir*; return them by package.

    Cached files are reused as they are, so warm builds need no network and give the same versions;
    delete the cache to pick up security updates. A failing download is retried once after
    ``apt-get update``: the usual cause is missing or outdated package lists (404 on a superseded
    version). That updates the host's package lists, nothing else.
    """
    arch = run(["dpkg", "--print-architecture"], what="dpkg").strip()
    # One download at a time into the same cache.
    with hostcmd.locked(cache_dir / ".lock", what=f"the package cache {cache_dir}", waiting=progress):
        missing = [p for p in packages if _cached_deb(cache_dir, p, arch) is None]
        if missing:
            progress(f"download: {len(missing)} of {len(packages)} packages into {cache_dir}")
            # Root-owned cache dirs are not writable by apt's sandbox user; downloading as root
            # avoids a warning per file.
            cmd = ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", *missing]
            try:
                run(cmd, cwd=cache_dir, what="apt-get download")
            except ImageBuildError as exc:
                progress(f"download failed ({exc}); running apt-get update and retrying")
                hostpkg.update_lists(progress=progress)
                run(cmd, cwd=cache_dir, what="apt-get download (after update)")
        found = {p: _cached_deb(cache_dir, p, arch) for p in packages}
    absent = [p for p, path in found.items() if path is None]
    if absent:
        raise ImageBuildError(f"apt-get download produced no .deb for {', '.join(absent)}")
    debs = {p: path for p, path in found.items() if path is not None}
    total = sum(path.stat().st_size for path in debs.values())
    progress(f"download: {len(debs)} debs, {mb(total)} ({len(packages) - len(missing)} from cache)")
    return debs


def tree_size(root: Path) -> int:
    """Bytes of regular-file content below *root*, as Docker counts them."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            info = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISREG(info.st_mode):
                total += info.st_size
    return total


def extract(debs: Mapping[str, Path], root: Path, *, progress: Progress) -> dict[str, str]:
    """Unpack every .deb into *root*; return package -> exact version.

    Versions are read from the .deb itself (not the file name) for the ``io.socklab.debs`` label.
    """
    versions: dict[str, str] = {}
    for package, deb in debs.items():
        fields = run(["dpkg-deb", "-f", str(deb), "Package", "Version"], what="dpkg-deb -f")
        info = dict(line.split(": ", 1) for line in fields.splitlines() if ": " in line)
        if info.get("Package") != package:
            raise ImageBuildError(f"{deb.name} is not package {package}")
        versions[package] = info["Version"]
        run(["dpkg-deb", "-x", str(deb), str(root)], what=f"dpkg-deb -x {deb.name}")
    progress(f"extract: {len(debs)} packages, {mb(tree_size(root))}")
    return versions
