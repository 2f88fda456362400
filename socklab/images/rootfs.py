"""Build the minimal ``socklab/base`` Python image from Debian packages.

The lab machines have no container registry, so ``FROM python:3.11-slim``
cannot work.  Instead the image is assembled on the host: the Debian
``.deb`` files that make up a Python 3.11 interpreter are fetched with
``apt-get download`` (the host's own package mirror is reachable even when no
registry is), unpacked into an empty folder, pruned down to what a TCP
socket lab needs, byte-compiled by the image's *own* interpreter under
``chroot`` (so the bytecode matches the interpreter and the recorded paths are
the in-image paths), packed into a tar and imported with ``docker import``.

The result is a single-layer image of about 15 MB (uncompressed) that runs
``python3`` and nothing else: no shell (Dockerfiles built on it must use the
exec form, ``RUN ["python", ...]``), no package manager, no TLS, and only
the part of the standard library a socket lab uses (see ``_PRUNE_PATTERNS``).

Building needs root (for ``chroot``), ``apt-get`` and ``dpkg-deb`` on the
host, and must happen on a Debian bookworm host of the same architecture as
the image, because the packages come from the host's apt sources.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

import docker
import docker.errors
from docker.models.images import Image
from docker.utils import parse_repository_tag

__all__ = [
    "BASE_TAG",
    "DEFAULT_CACHE_DIR",
    "DROPPED_PACKAGES",
    "PACKAGES",
    "BaseBuildError",
    "base_exists",
    "build_base",
    "group_text",
    "import_changes",
    "is_pruned",
    "parse_ld_list",
    "passwd_text",
]

BASE_TAG = "socklab/base:latest"

#: Debian packages that end up in the image.  Every one is proven necessary:
#: ``python3.11`` links ``libm``/``libc`` (libc6), ``libz`` (zlib1g) and
#: ``libexpat`` (libexpat1); glibc ``dlopen``s ``libgcc_s.so.1`` (libgcc-s1)
#: to unwind a thread in ``pthread_exit``, which CPython calls when a daemon
#: thread wakes up during interpreter shutdown -- without it the process
#: aborts ("libgcc_s.so.1 must be installed for pthread_exit to work").
PACKAGES: tuple[str, ...] = (
    "python3.11-minimal",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
    "libc6",
    "zlib1g",
    "libexpat1",
    "libgcc-s1",
)

#: Packages of a "full" Debian python3.11 runtime that are deliberately left
#: out, with the reason.  Each is only needed by an extension module that the
#: pruning removes anyway, so the lab's modules never miss them.
DROPPED_PACKAGES: Mapping[str, str] = {
    "libssl3": "only _ssl/_hashlib; the lab speaks plain TCP, hashlib falls "
    "back to the built-in _sha*/_md5/_blake2 (saves ~5.4 MB)",
    "libffi8": "only _ctypes; ctypes is pruned",
    "libbz2-1.0": "only _bz2; bz2 is pruned",
    "liblzma5": "only _lzma; lzma is pruned",
    "libuuid1": "only _uuid; uuid.py falls back to pure Python",
    "libcrypt1": "only _crypt; crypt is deprecated and pruned",
}

#: Where downloaded .debs are kept between builds (warm builds are offline).
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "socklab" / "debs"

#: Non-root account the lab's containers run as (``--user 10001``).
LAB_USER = "socklab"
LAB_UID = 10001
LAB_GID = 10001

#: Bytecode only (``compileall -b``, sources deleted) versus ``.py`` sources
#: plus ``__pycache__``.  Measured on bookworm 3.11.2 (docker image Size):
#: 14.8 MB sourceless versus 18.7 MB with sources, same start-up time; only
#: the sourceless variant meets the 15 MB budget.  The price: tracebacks
#: through *standard-library* frames show file and line but not the source
#: line.  The lab's own code is copied in as ``.py`` and keeps full tracebacks.
KEEP_SOURCES = False

_PY = "python3.11"
_STDLIB = f"usr/lib/{_PY}"
_TRIPLET = "*-linux-gnu*"

_IMAGE_DESCRIPTION = (
    "Minimal Python 3.11 runtime for the socklab TCP server/client lab, "
    "assembled from Debian bookworm packages without a registry"
)

#: Glob patterns (``fnmatch``, ``*`` also crosses ``/``) of paths, relative to
#: the image root, that a socket lab does not need.  A matching directory is
#: removed with everything under it.  Anything not listed here is kept.
_PRUNE_PATTERNS: tuple[str, ...] = (
    # Debian packaging leftovers; copyright files are kept (see below).
    "usr/share/man",
    "usr/share/lintian",
    "usr/share/binfmts",
    "usr/share/locale",
    "usr/share/doc/*/*",
    "usr/lib/binfmt.d",
    "etc/ld.so.conf.d",
    # Debian's sitecustomize only tries to import apport (not installed).
    "etc/python3.11",
    f"{_STDLIB}/sitecustomize.py",
    # glibc's iconv modules (8 MB): CPython has its own codecs.
    f"usr/lib/{_TRIPLET}/gconv",
    f"lib/{_TRIPLET}/gconv",
    # Test suites, GUI, REPL toys and packaging tools.
    f"{_STDLIB}/test",
    f"{_STDLIB}/*/test",
    f"{_STDLIB}/*/tests",
    f"{_STDLIB}/idlelib",
    f"{_STDLIB}/tkinter",
    f"{_STDLIB}/turtledemo",
    f"{_STDLIB}/turtle.py",
    f"{_STDLIB}/ensurepip",
    f"{_STDLIB}/lib2to3",
    f"{_STDLIB}/pydoc_data",
    f"{_STDLIB}/pydoc.py",
    f"{_STDLIB}/distutils",
    f"{_STDLIB}/_distutils_system_mod.py",
    f"{_STDLIB}/venv",
    f"{_STDLIB}/unittest",
    f"{_STDLIB}/doctest.py",
    f"{_STDLIB}/__phello__",
    f"{_STDLIB}/__hello__.py",
    f"{_STDLIB}/antigravity.py",
    f"{_STDLIB}/this.py",
    f"{_STDLIB}/_aix_support.py",
    f"{_STDLIB}/_osx_support.py",
    f"{_STDLIB}/_bootsubprocess.py",
    # Modules whose C part needs a dropped package (see DROPPED_PACKAGES)
    # or a library that Debian's -minimal/-stdlib do not ship at all.
    f"{_STDLIB}/ctypes",
    f"{_STDLIB}/sqlite3",
    f"{_STDLIB}/curses",
    f"{_STDLIB}/dbm",
    f"{_STDLIB}/shelve.py",
    f"{_STDLIB}/ssl.py",
    f"{_STDLIB}/bz2.py",
    f"{_STDLIB}/lzma.py",
    f"{_STDLIB}/crypt.py",
    f"{_STDLIB}/_pydecimal.py",
    f"{_STDLIB}/lib-dynload/_test*",
    f"{_STDLIB}/lib-dynload/_xx*",
    f"{_STDLIB}/lib-dynload/xxlimited*",
    f"{_STDLIB}/lib-dynload/_ctypes*",
    f"{_STDLIB}/lib-dynload/_curses*",
    f"{_STDLIB}/lib-dynload/_dbm*",
    f"{_STDLIB}/lib-dynload/_sqlite3*",
    f"{_STDLIB}/lib-dynload/_ssl*",
    f"{_STDLIB}/lib-dynload/_hashlib*",
    f"{_STDLIB}/lib-dynload/_bz2*",
    f"{_STDLIB}/lib-dynload/_lzma*",
    f"{_STDLIB}/lib-dynload/_uuid*",
    f"{_STDLIB}/lib-dynload/_crypt*",
    f"{_STDLIB}/lib-dynload/_decimal*",
    f"{_STDLIB}/lib-dynload/nis*",
    f"{_STDLIB}/lib-dynload/readline*",
    f"{_STDLIB}/lib-dynload/audioop*",
    f"{_STDLIB}/lib-dynload/ossaudiodev*",
    # Not a socket lab's business: web, mail and XML protocols and formats
    # (http.server and urllib.request go with them; urllib.parse stays),
    # multiprocessing (the lab uses threads and asyncio), media formats,
    # profilers and code-analysis tools.
    f"{_STDLIB}/email",
    f"{_STDLIB}/xml",
    f"{_STDLIB}/xmlrpc",
    f"{_STDLIB}/html",
    f"{_STDLIB}/http",
    f"{_STDLIB}/wsgiref",
    f"{_STDLIB}/urllib/request.py",
    f"{_STDLIB}/urllib/robotparser.py",
    f"{_STDLIB}/importlib/metadata",
    f"{_STDLIB}/mailbox.py",
    f"{_STDLIB}/mailcap.py",
    f"{_STDLIB}/mimetypes.py",
    f"{_STDLIB}/imaplib.py",
    f"{_STDLIB}/nntplib.py",
    f"{_STDLIB}/smtplib.py",
    f"{_STDLIB}/smtpd.py",
    f"{_STDLIB}/ftplib.py",
    f"{_STDLIB}/poplib.py",
    f"{_STDLIB}/telnetlib.py",
    f"{_STDLIB}/cgi.py",
    f"{_STDLIB}/cgitb.py",
    f"{_STDLIB}/webbrowser.py",
    f"{_STDLIB}/netrc.py",
    f"{_STDLIB}/plistlib.py",
    f"{_STDLIB}/tomllib",
    f"{_STDLIB}/xdrlib.py",
    f"{_STDLIB}/uu.py",
    f"{_STDLIB}/nturl2path.py",
    f"{_STDLIB}/multiprocessing",
    f"{_STDLIB}/lib-dynload/_multiprocessing*",
    f"{_STDLIB}/lib-dynload/_posixshmem*",
    f"{_STDLIB}/aifc.py",
    f"{_STDLIB}/sunau.py",
    f"{_STDLIB}/wave.py",
    f"{_STDLIB}/chunk.py",
    f"{_STDLIB}/sndhdr.py",
    f"{_STDLIB}/imghdr.py",
    f"{_STDLIB}/pickletools.py",
    f"{_STDLIB}/_pyio.py",
    f"{_STDLIB}/profile.py",
    f"{_STDLIB}/cProfile.py",
    f"{_STDLIB}/pstats.py",
    f"{_STDLIB}/lib-dynload/_lsprof*",
    f"{_STDLIB}/trace.py",
    f"{_STDLIB}/tabnanny.py",
    f"{_STDLIB}/pyclbr.py",
    f"{_STDLIB}/zipapp.py",
    f"{_STDLIB}/modulefinder.py",
    # Windows-only asyncio event loops, and process pools (no multiprocessing).
    f"{_STDLIB}/asyncio/windows_*.py",
    f"{_STDLIB}/asyncio/proactor_events.py",
    f"{_STDLIB}/concurrent/futures/process.py",
    # The import system always runs from its frozen copy (_frozen_importlib).
    f"{_STDLIB}/importlib/_bootstrap.py",
    f"{_STDLIB}/importlib/_bootstrap_external.py",
    f"{_STDLIB}/pdb.py",
    f"{_STDLIB}/bdb.py",
    f"{_STDLIB}/difflib.py",
    f"{_STDLIB}/optparse.py",
    f"{_STDLIB}/tarfile.py",
    f"{_STDLIB}/zipfile.py",
    f"{_STDLIB}/sysconfig.py",
    f"{_STDLIB}/_sysconfigdata_*",
    # No tzdata in the image, so zoneinfo could not find any zone anyway.
    f"{_STDLIB}/zoneinfo",
    f"{_STDLIB}/lib-dynload/_zoneinfo*",
    # decimal needs _decimal (dropped: 300 kB) or _pydecimal (dropped);
    # fractions and statistics import decimal.
    f"{_STDLIB}/decimal.py",
    f"{_STDLIB}/fractions.py",
    f"{_STDLIB}/statistics.py",
    # CJK multibyte codecs (~1 MB with their C helpers) and Windows codecs.
    f"{_STDLIB}/lib-dynload/_codecs_*",
    f"{_STDLIB}/lib-dynload/_multibytecodec*",
    f"{_STDLIB}/encodings/big5*",
    f"{_STDLIB}/encodings/cp932.py",
    f"{_STDLIB}/encodings/cp949.py",
    f"{_STDLIB}/encodings/cp950.py",
    f"{_STDLIB}/encodings/euc_*",
    f"{_STDLIB}/encodings/gb*",
    f"{_STDLIB}/encodings/hz.py",
    f"{_STDLIB}/encodings/iso2022_*",
    f"{_STDLIB}/encodings/johab.py",
    f"{_STDLIB}/encodings/shift_jis*",
    # Legacy single-byte code pages (a few common ones are kept below).
    f"{_STDLIB}/encodings/cp[0-9]*",
    f"{_STDLIB}/encodings/mac_*",
    f"{_STDLIB}/encodings/iso8859_*",
    f"{_STDLIB}/encodings/koi8_*",
    f"{_STDLIB}/encodings/kz1048.py",
    f"{_STDLIB}/encodings/palmos.py",
    f"{_STDLIB}/encodings/ptcp154.py",
    f"{_STDLIB}/encodings/tis_620.py",
    f"{_STDLIB}/encodings/hp_roman8.py",
    f"{_STDLIB}/encodings/bz2_codec.py",
    f"{_STDLIB}/encodings/mbcs.py",
    f"{_STDLIB}/encodings/oem.py",
    # Debian ships none, but never let stale bytecode shadow the rebuild.
    "*/__pycache__",
)

#: Exceptions to ``_PRUNE_PATTERNS``: licence texts travel with the binaries,
#: and the code pages most likely met on a terminal or in a file stay.
_KEEP_PATTERNS: tuple[str, ...] = (
    "usr/share/doc/*/copyright",
    f"{_STDLIB}/encodings/cp437.py",
    f"{_STDLIB}/encodings/cp1252.py",
    f"{_STDLIB}/encodings/iso8859_1.py",
    f"{_STDLIB}/encodings/iso8859_15.py",
)


class BaseBuildError(RuntimeError):
    """The base image could not be built; the message says which step failed."""


# --------------------------------------------------------------------------
# Pure helpers (unit-tested without Docker)
# --------------------------------------------------------------------------


def is_pruned(relpath: str) -> bool:
    """Tell whether *relpath* (relative to the image root) is left out.

    A path is left out when it or one of its folders matches a prune
    pattern, unless it matches a keep pattern.  Kept as a pure function of
    the path so the policy can be read and tested in one place, independent
    of what the packages contain.
    Shared libraries are *not* decided here: they are kept or dropped by
    their actual ``DT_NEEDED`` closure (see ``_prune_shared_libs``).
    """
    rel = PurePosixPath(relpath.lstrip("/"))
    if any(fnmatchcase(rel.as_posix(), pat) for pat in _KEEP_PATTERNS):
        return False
    candidates = [rel, *list(rel.parents)[:-1]]  # itself and its ancestors
    return any(fnmatchcase(path.as_posix(), pat) for path in candidates for pat in _PRUNE_PATTERNS)


def parse_ld_list(output: str) -> list[str]:
    """Return the absolute library paths that ``ld.so --list`` resolved.

    Reading the dynamic loader's own answer (run inside the image root) is
    more trustworthy than guessing from package metadata: it follows
    ``DT_NEEDED`` transitively with the image's real search path.  Raises
    ``BaseBuildError`` if any library is "not found", which means pruning
    removed something still needed.
    """
    paths: list[str] = []
    for raw in output.splitlines():
        line = raw.strip()
        if not line:
            continue
        if "not found" in line:
            raise BaseBuildError(f"missing shared library in image: {line}")
        match = re.search(r"=>\s+(/\S+)", line) or re.match(r"(/\S+)\s+\(0x", line)
        if match:
            paths.append(match.group(1))
    return paths


def passwd_text(*, user: str = LAB_USER, uid: int = LAB_UID, gid: int = LAB_GID) -> str:
    """``/etc/passwd`` with root and the lab user.

    Needed so ``--user 10001`` has a name and a home (``getpass``,
    ``os.path.expanduser`` and logging's ``%(user)`` lookups work) instead
    of "I have no name!".  There is no shell in the image, hence nologin.
    """
    return f"root:x:0:0:root:/root:/usr/sbin/nologin\n{user}:x:{uid}:{gid}:{user}:/home/{user}:/usr/sbin/nologin\n"


def group_text(*, group: str = LAB_USER, gid: int = LAB_GID) -> str:
    """``/etc/group`` matching :func:`passwd_text`."""
    return f"root:x:0:\n{group}:x:{gid}:\n"


def import_changes(
    *,
    python_version: str,
    debs: Mapping[str, str],
    extra_labels: Mapping[str, str] | None = None,
) -> list[str]:
    """Dockerfile instructions applied by ``docker import``.

    ``docker import`` produces an image without any config, so PATH, the
    locale, unbuffered output (log lines must reach ``docker logs`` at once)
    and the default command are set here.  Labels record exactly which
    Debian package versions are inside, since there is no Dockerfile to look
    at.  Values are JSON-quoted, which the Dockerfile parser accepts.
    """
    labels: dict[str, str] = {
        "org.opencontainers.image.title": "socklab base",
        "org.opencontainers.image.description": _IMAGE_DESCRIPTION,
        "io.socklab.python": python_version,
        "io.socklab.debs": ",".join(f"{name}={ver}" for name, ver in debs.items()),
    }
    labels.update(extra_labels or {})
    return [
        "ENV PATH=/usr/local/bin:/usr/bin:/bin",
        "ENV LANG=C.UTF-8",
        "ENV PYTHONUNBUFFERED=1",
        *(f"LABEL {key}={json.dumps(value)}" for key, value in labels.items()),
        'CMD ["python3"]',
    ]


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def base_exists(client: docker.DockerClient, tag: str = BASE_TAG) -> bool:
    """Tell whether *tag* is present locally (one cheap API call)."""
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def build_base(
    client: docker.DockerClient,
    *,
    tag: str = BASE_TAG,
    force: bool = False,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    progress: Callable[[str], None] = lambda _msg: None,
    labels: Mapping[str, str] | None = None,
) -> Image:
    """Return the base image *tag*, building it first if needed.

    Runs before every demo and test, so when the image already exists (and
    *force* is false) it returns after a single lookup.  Otherwise the
    packages are taken from *cache_dir* (downloaded there if missing, so
    later builds work offline), and the image is rebuilt from scratch in a
    temporary folder that is always removed.  *labels* are added to the
    standard ones (tests use it to mark throwaway images).  Progress of the
    slow steps is reported through *progress*; nothing is printed.
    """
    old_id: str | None = None
    try:
        existing = client.images.get(tag)
    except docker.errors.ImageNotFound:
        existing = None
    if existing is not None:
        if not force:
            return existing
        old_id = existing.id

    _check_host()
    started = time.monotonic()
    debs = _download(PACKAGES, cache_dir=Path(cache_dir), progress=progress)
    work = Path(tempfile.mkdtemp(prefix="socklab-base-"))
    try:
        root = work / "root"
        root.mkdir()
        versions = _extract(debs, root, progress=progress)
        _prune(root, progress=progress)
        _compile(root, keep_sources=KEEP_SOURCES, progress=progress)
        _write_skeleton(root)
        python_version = _python_version(root)
        tarpath = work / "rootfs.tar"
        _write_tar(root, tarpath)
        progress(f"import: {_mb(tarpath.stat().st_size)} tar as {tag}")
        image = _import(
            client,
            tarpath,
            tag=tag,
            changes=import_changes(python_version=python_version, debs=versions, extra_labels=labels),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    if old_id is not None and old_id != image.id:
        _remove_if_dangling(client, old_id)
    progress(
        f"built {tag}: Python {python_version}, {_mb(image.attrs.get('Size', 0))} in {time.monotonic() - started:.1f} s"
    )
    return image


# --------------------------------------------------------------------------
# Build steps
# --------------------------------------------------------------------------


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _run(cmd: Sequence[str], *, cwd: Path | None = None, what: str) -> str:
    """Run *cmd*, returning stdout, and turn failures into BaseBuildError.

    The environment is minimal and fixed so the host user's PYTHON* or
    locale variables cannot change what the chrooted interpreter does.
    """
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    try:
        done = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise BaseBuildError(f"{what}: cannot run {cmd[0]}: {exc}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-2000:]
        raise BaseBuildError(f"{what} failed (exit {done.returncode}): {tail}")
    return done.stdout


def _check_host() -> None:
    """Fail early and clearly instead of half-way through a build."""
    if os.geteuid() != 0:
        raise BaseBuildError(
            "building the base image needs root (chroot runs the image's "
            "interpreter to byte-compile the standard library)"
        )
    for tool in ("apt-get", "dpkg-deb", "dpkg", "chroot"):
        if shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
            raise BaseBuildError(f"building the base image needs {tool} on the host")


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Serialise concurrent builds sharing one .deb cache (demo + tests)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _cached_deb(cache_dir: Path, package: str, arch: str) -> Path | None:
    """Newest cached .deb of *package* (file names are name_version_arch)."""
    hits = [path for path in cache_dir.glob(f"{package}_*.deb") if path.name.endswith((f"_{arch}.deb", "_all.deb"))]
    return max(hits, key=lambda path: path.stat().st_mtime, default=None)


def _download(packages: Sequence[str], *, cache_dir: Path, progress: Callable[[str], None]) -> dict[str, Path]:
    """Make sure a .deb of every package is in *cache_dir*; return them.

    Cached files are reused as they are, so warm builds need no network and
    give the same versions; delete the cache to pick up security updates.
    A failing download is retried once after ``apt-get update``, because
    the usual cause is missing or outdated package lists (404 on a
    superseded version).
    """
    arch = _run(["dpkg", "--print-architecture"], what="dpkg").strip()
    with _locked(cache_dir):
        missing = [p for p in packages if _cached_deb(cache_dir, p, arch) is None]
        if missing:
            progress(f"download: {len(missing)} of {len(packages)} packages into {cache_dir}")
            # Root-owned cache dirs are not writable by apt's sandbox user;
            # downloading as root avoids a warning per file.
            cmd = ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", *missing]
            try:
                _run(cmd, cwd=cache_dir, what="apt-get download")
            except BaseBuildError as exc:
                progress(f"download failed ({exc}); running apt-get update and retrying")
                _run(["apt-get", "update", "-q"], what="apt-get update")
                _run(cmd, cwd=cache_dir, what="apt-get download (after update)")
        found = {p: _cached_deb(cache_dir, p, arch) for p in packages}
    absent = [p for p, path in found.items() if path is None]
    if absent:
        raise BaseBuildError(f"apt-get download produced no .deb for {', '.join(absent)}")
    debs = {p: path for p, path in found.items() if path is not None}
    total = sum(path.stat().st_size for path in debs.values())
    progress(f"download: {len(debs)} debs, {_mb(total)} ({len(packages) - len(missing)} from cache)")
    return debs


def _tree_size(root: Path) -> int:
    """Bytes of regular-file content below *root*, as Docker counts them."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            info = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISREG(info.st_mode):
                total += info.st_size
    return total


def _extract(debs: Mapping[str, Path], root: Path, *, progress: Callable[[str], None]) -> dict[str, str]:
    """Unpack every .deb into *root*; return package -> exact version.

    ``dpkg-deb -x`` only unpacks files: no maintainer scripts run, which is
    what we want for a foreign root.  Versions are read from the .deb itself
    (not the file name) for the ``io.socklab.debs`` label.
    """
    versions: dict[str, str] = {}
    for package, deb in debs.items():
        fields = _run(["dpkg-deb", "-f", str(deb), "Package", "Version"], what="dpkg-deb -f")
        info = dict(line.split(": ", 1) for line in fields.splitlines() if ": " in line)
        if info.get("Package") != package:
            raise BaseBuildError(f"{deb.name} is not package {package}")
        versions[package] = info["Version"]
        _run(["dpkg-deb", "-x", str(deb), str(root)], what=f"dpkg-deb -x {deb.name}")
    progress(f"extract: {len(debs)} packages, {_mb(_tree_size(root))}")
    return versions


def _prune(root: Path, *, progress: Callable[[str], None]) -> None:
    """Apply ``is_pruned``, then drop shared libraries nothing links to."""
    before = _tree_size(root)
    for dirpath, dirnames, filenames in os.walk(root, topdown=True):
        here = Path(dirpath)
        for name in list(dirnames):
            path = here / name
            if is_pruned(path.relative_to(root).as_posix()):
                dirnames.remove(name)
                if path.is_symlink():
                    path.unlink()
                else:
                    shutil.rmtree(path)
        for name in filenames:
            path = here / name
            if is_pruned(path.relative_to(root).as_posix()):
                path.unlink()
    _prune_shared_libs(root)
    _dedupe_docs(root)
    _remove_empty_dirs(root)
    progress(f"prune: {_mb(before)} -> {_mb(_tree_size(root))}")


def _loader(root: Path) -> str:
    """In-image path of the dynamic loader (amd64, arm64, ...)."""
    for pattern in ("lib64/ld-linux*.so*", "lib/ld-linux*.so*", "lib/*/ld-linux*.so*"):
        for hit in sorted(root.glob(pattern)):
            return "/" + hit.relative_to(root).as_posix()
    raise BaseBuildError("no dynamic loader (ld-linux*.so) found in libc6")


def _symlink_chain(root: Path, abs_path: str) -> set[str]:
    """Root-relative paths of *abs_path* and every symlink hop after it.

    Resolved by hand, never with ``Path.resolve``: the libc6 symlinks are
    absolute and would otherwise point into the *host* file system.
    """
    chain: set[str] = set()
    current = os.path.normpath(abs_path)
    for _ in range(40):
        rel = current.lstrip("/")
        chain.add(rel)
        candidate = root / rel
        if not candidate.is_symlink():
            break
        target = os.readlink(candidate)
        base = "/" if target.startswith("/") else os.path.dirname(current)
        current = os.path.normpath(os.path.join(base, target))
    return chain


def _prune_shared_libs(root: Path) -> None:
    """Keep exactly the libraries the interpreter and kept modules load.

    ``ld.so --list`` is run inside the root for ``python3.11`` and every
    remaining extension module; a "not found" aborts the build, so this also
    proves that the reduced package list is sufficient.  ``libgcc_s.so.1``
    is kept although nothing links it, because glibc ``dlopen``s it for
    ``pthread_exit``/``pthread_cancel``.
    """
    loader = _loader(root)
    modules = (root / _STDLIB / "lib-dynload").glob("*.so")
    objects = [f"/usr/bin/{_PY}", *sorted("/" + p.relative_to(root).as_posix() for p in modules)]
    keep = _symlink_chain(root, loader)
    for obj in objects:
        listing = _run(["chroot", str(root), loader, "--list", obj], what=f"ld.so --list {obj}")
        for lib in parse_ld_list(listing):
            keep |= _symlink_chain(root, lib)
    for gcc_s in root.glob(f"lib/{_TRIPLET}/libgcc_s.so.1"):
        keep |= _symlink_chain(root, "/" + gcc_s.relative_to(root).as_posix())
    lib_dirs = [*root.glob(f"lib/{_TRIPLET}"), *root.glob(f"usr/lib/{_TRIPLET}"), root / "lib64"]
    for lib_dir in lib_dirs:
        if not lib_dir.is_dir():
            continue
        for dirpath, _dirs, files in os.walk(lib_dir):
            for name in files:
                path = Path(dirpath) / name
                if path.relative_to(root).as_posix() not in keep:
                    path.unlink()


def _dedupe_docs(root: Path) -> None:
    """Replace identical copyright files by symlinks to the first copy.

    python3.11-minimal and libpython3.11-minimal ship the same 50 kB text.
    """
    seen: dict[bytes, Path] = {}
    for path in sorted((root / "usr/share/doc").glob("*/copyright")):
        if path.is_symlink() or not path.is_file():
            continue
        digest = hashlib.sha256(path.read_bytes()).digest()
        if digest in seen:
            path.unlink()
            path.symlink_to(Path("..") / seen[digest].parent.name / seen[digest].name)
        else:
            seen[digest] = path


def _remove_empty_dirs(root: Path) -> None:
    for dirpath, _dirs, _files in os.walk(root, topdown=False):
        path = Path(dirpath)
        if path != root and not any(path.iterdir()):
            path.rmdir()


def _compile(root: Path, *, keep_sources: bool, progress: Callable[[str], None]) -> None:
    """Byte-compile the standard library with the image's own interpreter.

    Without this every container start would compile what it imports (the
    non-root user cannot even cache the result).  Running ``compileall``
    under ``chroot`` guarantees the bytecode magic matches the interpreter
    and that ``co_filename`` holds in-image paths.  Sourceless mode writes
    legacy ``x.pyc`` next to ``x.py`` (``-b``) and deletes the sources.
    """
    before = _tree_size(root)
    stdlib = root / _STDLIB
    # -B: the modules compileall itself imports must not leave __pycache__.
    cmd = ["chroot", str(root), f"/usr/bin/{_PY}", "-I", "-B", "-m", "compileall", "-q"]
    if not keep_sources:
        cmd.append("-b")
    _run([*cmd, f"/{_STDLIB}"], what="compileall")
    if not keep_sources:
        for path in stdlib.rglob("*.py"):
            path.unlink()
        for path in _frozen_module_files(root):
            path.unlink()
    mode = "with sources" if keep_sources else "sourceless (-b)"
    progress(f"compile: {mode}, {_mb(before)} -> {_mb(_tree_size(root))}")


def _frozen_module_files(root: Path) -> list[Path]:
    """``.pyc`` files of modules that are frozen into ``python3.11`` itself.

    CPython 3.11 runs ``os``, ``site``, ``codecs``, ``io`` ... from copies
    frozen into the binary, so their on-disk bytecode is never read (it would
    only be with ``-X frozen_modules=off``).  With sources those files still
    give tracebacks their source lines, so they are only removed in
    sourceless mode.  ``os.pyc`` stays: it is the landmark by which the
    interpreter finds its standard library (``sys.prefix``).
    """
    out = _run(
        [
            "chroot",
            str(root),
            f"/usr/bin/{_PY}",
            "-I",
            "-B",
            "-c",
            "import _imp; print(*_imp._frozen_module_names())",
        ],
        what="list frozen modules",
    )
    stdlib = root / _STDLIB
    files = []
    for name in out.split():
        if name == "os":
            continue
        base = stdlib.joinpath(*name.split("."))
        for candidate in (base.with_suffix(".pyc"), base / "__init__.pyc"):
            if candidate.is_file() and not candidate.is_symlink():
                files.append(candidate)
    return files


def _write_skeleton(root: Path) -> None:
    """Add what a container expects besides the packages' files."""
    (root / "usr/bin/python3").symlink_to(_PY)
    (root / "usr/bin/python").symlink_to(_PY)
    (root / "usr/local/bin").mkdir(parents=True)
    etc = root / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "passwd").write_text(passwd_text())
    (etc / "group").write_text(group_text())
    # glibc's default for a missing file is "dns files"; /etc/hosts first is
    # what Docker's embedded DNS and the lab's "localhost" expect.
    (etc / "nsswitch.conf").write_text("passwd: files\ngroup: files\nhosts: files dns\n")
    for path in (etc / "passwd", etc / "group", etc / "nsswitch.conf"):
        path.chmod(0o644)
    (root / "root").mkdir(mode=0o700)
    home = root / "home" / LAB_USER
    home.mkdir(parents=True)
    home.chmod(0o755)
    tmp = root / "tmp"
    tmp.mkdir()
    tmp.chmod(0o1777)  # mkdir's mode is filtered by the umask; chmod is not


def _python_version(root: Path) -> str:
    out = _run(
        [
            "chroot",
            str(root),
            f"/usr/bin/{_PY}",
            "-I",
            "-c",
            "import platform; print(platform.python_version())",
        ],
        what="python --version",
    )
    return out.strip()


def _write_tar(root: Path, tarpath: Path) -> None:
    """Pack *root* with every entry owned by root, except the lab's home.

    Ownership is set explicitly rather than taken from the build folder so
    the image is the same whoever builds it.  Modification times are kept:
    with sources, the ``.pyc`` files are validated against them.
    """
    home = f"home/{LAB_USER}"

    def owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
        if info.name == home or info.name.startswith(home + "/"):
            info.uid, info.gid, info.uname, info.gname = (
                LAB_UID,
                LAB_GID,
                LAB_USER,
                LAB_USER,
            )
        else:
            info.uid, info.gid, info.uname, info.gname = 0, 0, "root", "root"
        return info

    with tarfile.open(tarpath, "w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in [*dirnames, *sorted(filenames)]:
                path = Path(dirpath) / name
                tar.add(
                    path,
                    arcname=path.relative_to(root).as_posix(),
                    recursive=False,
                    filter=owner,
                )


def _import(client: docker.DockerClient, tarpath: Path, *, tag: str, changes: list[str]) -> Image:
    """``docker import`` the tar under *tag* (the SDK streams the file)."""
    repository, image_tag = parse_repository_tag(tag)
    try:
        client.api.import_image(
            src=str(tarpath),
            repository=repository,
            tag=image_tag or "latest",
            changes=changes,
        )
        return client.images.get(tag)
    except docker.errors.DockerException as exc:
        raise BaseBuildError(f"docker import of {tag} failed: {exc}") from exc


def _remove_if_dangling(client: docker.DockerClient, image_id: str) -> None:
    """Drop the image a forced rebuild replaced, if nothing else uses it.

    Without this every ``force=True`` leaves a ~15 MB ``<none>`` image.  An
    image still tagged elsewhere or used by a container is left alone.
    """
    try:
        old = client.images.get(image_id)
        if not old.tags:
            client.images.remove(image_id)
    except docker.errors.APIError:
        pass
