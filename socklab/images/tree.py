"""The image's file tree on the host: prune it, byte-compile it, add a skeleton, pack it as a tar.

Every step takes the unpacked root folder and the image's policy; nothing here talks to Docker.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
from pathlib import Path

from socklab.images.debs import mb, run, tree_size
from socklab.images.libraries import prune_libraries
from socklab.images.policy import ImagePolicy
from socklab.progress import Progress

__all__ = ["compile_stdlib", "prune", "python_version", "write_skeleton", "write_tar"]

DIST_PACKAGES = "usr/lib/python3/dist-packages"  # where Debian's python3-* packages put their modules


def prune(root: Path, policy: ImagePolicy, *, progress: Progress) -> None:
    """Remove what the policy prunes, then the libraries nothing loads, duplicate docs, empty folders."""
    before = tree_size(root)
    for dirpath, dirnames, filenames in os.walk(root, topdown=True):
        here = Path(dirpath)
        for name in list(dirnames):
            path = here / name
            if policy.prunes(path.relative_to(root).as_posix()):
                dirnames.remove(name)
                if path.is_symlink():
                    path.unlink()
                else:
                    shutil.rmtree(path)
        for name in filenames:
            path = here / name
            if policy.prunes(path.relative_to(root).as_posix()):
                path.unlink()
    checked = prune_libraries(root, policy)
    _dedupe_docs(root)
    _remove_empty_dirs(root)
    size = f"{mb(before)} -> {mb(tree_size(root))}"
    progress(f"prune: {size}; the libraries of all {len(checked)} programs and modules are present")


def _dedupe_docs(root: Path) -> None:
    """Replace identical copyright files by links to the first copy (python3.X-minimal and
    libpython3.X-minimal ship the same 50 kB text)."""
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


def _interpreter(policy: ImagePolicy) -> str:
    if policy.interpreter is None:
        raise ValueError(f"the {policy.name} image has no Python")
    return "/" + policy.interpreter


def compile_stdlib(root: Path, policy: ImagePolicy, *, progress: Progress) -> None:
    """Byte-compile the standard library with the image's own interpreter (nothing to do without one).

    Without this every container start would compile what it imports (a non-root user cannot even
    cache the result). ``compileall`` under ``chroot`` makes the bytecode match the interpreter and
    ``co_filename`` hold in-image paths. Sourceless mode writes legacy ``x.pyc`` next to ``x.py``
    (``-b``) and deletes the sources.
    """
    if policy.stdlib is None:
        return
    before = tree_size(root)
    # -B: the modules compileall itself imports must not leave __pycache__.
    cmd = ["chroot", str(root), _interpreter(policy), "-I", "-B", "-m", "compileall", "-q"]
    if not policy.keep_sources:
        cmd.append("-b")
    # Debian's packaged modules (the tools' pyroute2) are compiled the same way.
    folders = [policy.stdlib] + ([DIST_PACKAGES] if (root / DIST_PACKAGES).is_dir() else [])
    run([*cmd, *(f"/{folder}" for folder in folders)], what="compileall")
    if not policy.keep_sources:
        for folder in folders:
            for path in (root / folder).rglob("*.py"):
                path.unlink()
        for path in _frozen_module_files(root, policy):
            path.unlink()
    mode = "with sources" if policy.keep_sources else "sourceless (-b)"
    progress(f"compile: {mode}, {mb(before)} -> {mb(tree_size(root))}")


def _frozen_module_files(root: Path, policy: ImagePolicy) -> list[Path]:
    """``.pyc`` files of modules frozen into the interpreter itself.

    CPython 3.11+ runs ``os``, ``site``, ``codecs``, ``io`` ... from copies frozen into the binary, so
    their on-disk bytecode is never read (only with ``-X frozen_modules=off``). With sources those files
    still give tracebacks their source lines, so they only go in sourceless mode. ``os.pyc`` stays: it is
    the landmark by which the interpreter finds its standard library (``sys.prefix``).
    """
    listing = "import _imp; print(*getattr(_imp, '_frozen_module_names', lambda: [])())"
    out = run(["chroot", str(root), _interpreter(policy), "-I", "-B", "-c", listing], what="list frozen modules")
    stdlib = root / str(policy.stdlib)
    files = []
    for name in out.split():
        if name == "os":
            continue
        base = stdlib.joinpath(*name.split("."))
        for candidate in (base.with_suffix(".pyc"), base / "__init__.pyc"):
            if candidate.is_file() and not candidate.is_symlink():
                files.append(candidate)
    return files


def python_version(root: Path, policy: ImagePolicy) -> str:
    """The exact interpreter version ("3.11.2"), asked from the interpreter in the image."""
    code = "import platform; print(platform.python_version())"
    return run(["chroot", str(root), _interpreter(policy), "-I", "-c", code], what="python --version").strip()


def passwd_text(policy: ImagePolicy) -> str:
    """``/etc/passwd``: root and the policy's accounts, so ``--user 10001`` has a name and a home
    (``getpass``, ``expanduser`` and logging work) instead of "I have no name!"."""
    lines = ["root:x:0:0:root:/root:/usr/sbin/nologin", *(a.passwd_line() for a in policy.accounts)]
    return "\n".join(lines) + "\n"


def group_text(policy: ImagePolicy) -> str:
    return "\n".join(["root:x:0:", *(a.group_line() for a in policy.accounts)]) + "\n"


def write_skeleton(root: Path, policy: ImagePolicy) -> None:
    """Add what a container expects besides the packages' files: links, accounts, folders."""
    for path, target in policy.symlinks:
        link = root / path
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)
    etc = root / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "passwd").write_text(passwd_text(policy))
    (etc / "group").write_text(group_text(policy))
    # glibc's default for a missing file is "dns files"; /etc/hosts first is what Docker's embedded
    # DNS and the lab's "localhost" expect.
    (etc / "nsswitch.conf").write_text("passwd: files\ngroup: files\nhosts: files dns\n")
    for written in (etc / "passwd", etc / "group", etc / "nsswitch.conf"):
        written.chmod(0o644)
    for path, mode in policy.folders:
        folder = root / path
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(mode)  # mkdir's mode is filtered by the umask; chmod is not
    for account in policy.accounts:
        if account.owns_home:
            home = root / account.home.lstrip("/")
            home.mkdir(parents=True, exist_ok=True)
            home.chmod(0o755)


def write_tar(root: Path, tarpath: Path, policy: ImagePolicy) -> None:
    """Pack *root* with every entry owned by root, except the accounts' homes.

    Ownership is set explicitly rather than taken from the build folder, so the image is the same
    whoever builds it. Modification times are kept: with sources, the ``.pyc`` files are validated
    against them.
    """
    homes = {a.home.lstrip("/"): a for a in policy.accounts if a.owns_home}

    def owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
        account = next((a for home, a in homes.items() if info.name == home or info.name.startswith(home + "/")), None)
        if account is not None:
            info.uid = info.gid = account.uid
            info.uname = info.gname = account.name
        else:
            info.uid, info.gid, info.uname, info.gname = 0, 0, "root", "root"
        return info

    with tarfile.open(tarpath, "w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in [*dirnames, *sorted(filenames)]:
                path = Path(dirpath) / name
                tar.add(path, arcname=path.relative_to(root).as_posix(), recursive=False, filter=owner)
