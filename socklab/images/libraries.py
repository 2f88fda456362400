"""Keep exactly the shared libraries an image's programs load, and prove none is missing.

The dynamic loader's own answer (``ld.so --list`` run inside the image root) follows ``DT_NEEDED``
transitively with the image's real search path, which is more trustworthy than package metadata. A
"not found" fails the build, so the reduced package list is proven sufficient at every build.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from socklab.images.debs import ImageBuildError, run
from socklab.images.policy import ImagePolicy

__all__ = ["library_dirs", "loader", "parse_ld_list", "prune_libraries", "resolve_globs", "symlink_chain"]


def parse_ld_list(output: str) -> list[str]:
    """The absolute library paths ``ld.so --list`` resolved; ImageBuildError on a "not found"."""
    paths: list[str] = []
    for raw in output.splitlines():
        line = raw.strip()
        if not line:
            continue
        if "not found" in line:
            raise ImageBuildError(f"missing shared library in image: {line}")
        match = re.search(r"=>\s+(/\S+)", line) or re.match(r"(/\S+)\s+\(0x", line)
        if match:
            paths.append(match.group(1))
    return paths


def loader(root: Path) -> str:
    """In-image path of the dynamic loader (amd64, arm64, ...)."""
    for pattern in ("lib64/ld-linux*.so*", "lib/ld-linux*.so*", "lib/*/ld-linux*.so*"):
        for hit in sorted(root.glob(pattern)):
            return "/" + hit.relative_to(root).as_posix()
    raise ImageBuildError("no dynamic loader (ld-linux*.so) found in libc6")


def symlink_chain(root: Path, abs_path: str) -> set[str]:
    """Root-relative paths of *abs_path* and every symlink hop after it.

    Resolved by hand, never with ``Path.resolve``: libc6's links are absolute and would otherwise
    point into the host's file system.
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


def resolve_globs(root: Path, patterns: tuple[str, ...]) -> list[str]:
    """Absolute in-image paths of the files matching *patterns* (sorted, no duplicates)."""
    hits = {"/" + hit.relative_to(root).as_posix() for pattern in patterns for hit in root.glob(pattern)}
    return sorted(path for path in hits if not (root / path.lstrip("/")).is_dir())


def library_dirs(root: Path) -> list[Path]:
    return [*root.glob("lib/*-linux-gnu*"), *root.glob("usr/lib/*-linux-gnu*"), root / "lib64"]


def _is_shared_library(name: str) -> bool:
    return name.endswith(".so") or ".so." in name


def prune_libraries(root: Path, policy: ImagePolicy) -> list[str]:
    """Check every ``elf_roots`` object and remove the libraries none of them loads; return the roots.

    A library is kept when a root links it (transitively), when it is a root itself (an iptables
    module), or when the policy says something ``dlopen``s it. Non-library files (tc's distribution
    tables) are left to the path policy.
    """
    ld_so = loader(root)
    objects = resolve_globs(root, policy.elf_roots)
    missing = [pattern for pattern in policy.elf_roots if not any(root.glob(pattern))]
    if missing:
        raise ImageBuildError(f"the {policy.name} image has nothing at {', '.join(missing)}")
    keep = symlink_chain(root, ld_so)
    for obj in objects:
        keep |= symlink_chain(root, obj)
        listing = run(["chroot", str(root), ld_so, "--list", obj], what=f"ld.so --list {obj}")
        for lib in parse_ld_list(listing):
            keep |= symlink_chain(root, lib)
    for dlopened in resolve_globs(root, policy.dlopened):
        keep |= symlink_chain(root, dlopened)
    for lib_dir in library_dirs(root):
        if not lib_dir.is_dir():
            continue
        for dirpath, _dirs, files in os.walk(lib_dir):
            for name in files:
                path = Path(dirpath) / name
                if _is_shared_library(name) and path.relative_to(root).as_posix() not in keep:
                    path.unlink()
    return objects
