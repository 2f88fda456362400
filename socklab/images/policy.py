"""What an image built from Debian packages contains: one frozen, pure record per image.

A policy names the packages to unpack, what to prune from them, which programs must still find every
library they link (the rest of the libraries go), the interpreter to byte-compile, the accounts and
links to add, and the image's configuration. The builder (``socklab.images.rootfs``) only carries it
out, so what an image keeps can be read and tested here, without Docker and without the packages.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from pathlib import PurePosixPath

__all__ = ["Account", "ImagePolicy", "matches"]


def matches(relpath: str, patterns: tuple[str, ...]) -> bool:
    """Whether *relpath* (relative to the image root) matches a glob; ``*`` also crosses ``/``."""
    path = relpath.lstrip("/")
    return any(fnmatchcase(path, pattern) for pattern in patterns)


@dataclass(frozen=True)
class Account:
    """A user (and its group of the same id) in ``/etc/passwd``; no shell exists, hence nologin."""

    name: str
    uid: int
    home: str  # absolute, e.g. /home/socklab
    owns_home: bool = True  # the home is created and owned by the account (else only named)

    def passwd_line(self) -> str:
        return f"{self.name}:x:{self.uid}:{self.uid}:{self.name}:{self.home}:/usr/sbin/nologin"

    def group_line(self) -> str:
        return f"{self.name}:x:{self.uid}:"


@dataclass(frozen=True)
class ImagePolicy:
    """One image: "a root filesystem from these Debian packages, pruned like this"."""

    name: str  # the policy's name: "base", "tools"
    tag: str  # where ``ensure_image`` puts it unless told otherwise
    title: str
    description: str
    packages: tuple[str, ...]
    #: Packages a full install would pull in but the image does without, with the reason.
    dropped: Mapping[str, str] = field(default_factory=dict)
    #: Globs (``*`` crosses ``/``) of paths left out; a matching folder goes with everything in it.
    prune: tuple[str, ...] = ()
    #: Exceptions to ``prune`` (licence texts, a few named modules).
    keep: tuple[str, ...] = ()
    #: Globs of the programs and loadable modules the image is for. Each must find every library it
    #: links (``ld.so --list``, a failed build otherwise); a shared library none of them loads is removed.
    elf_roots: tuple[str, ...] = ()
    #: Globs of libraries kept although nothing links them, because something ``dlopen``s them.
    dlopened: tuple[str, ...] = ()
    #: The Python version ("3.11") whose standard library is byte-compiled in the image; None: no Python.
    python: str | None = None
    #: Keep ``.py`` sources beside the bytecode (else sourceless ``compileall -b``).
    keep_sources: bool = False
    #: Links added after pruning: (path, target), e.g. ("usr/bin/python3", "python3.11").
    symlinks: tuple[tuple[str, str], ...] = ()
    #: Accounts besides root.
    accounts: tuple[Account, ...] = ()
    #: Folders created empty: (path, mode).
    folders: tuple[tuple[str, int], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    cmd: tuple[str, ...] = ()

    def prunes(self, relpath: str) -> bool:
        """Whether *relpath* is left out: it or one of its folders matches ``prune`` and it is not kept.

        Shared libraries are not decided here but by what ``elf_roots`` really load.
        """
        if matches(relpath, self.keep):
            return False
        rel = PurePosixPath(relpath.lstrip("/"))
        candidates = [rel, *list(rel.parents)[:-1]]  # itself and its folders
        return any(matches(path.as_posix(), self.prune) for path in candidates)

    @property
    def interpreter(self) -> str | None:
        """The interpreter's path in the image (``usr/bin/python3.11``), if the image has Python."""
        return f"usr/bin/python{self.python}" if self.python else None

    @property
    def stdlib(self) -> str | None:
        return f"usr/lib/python{self.python}" if self.python else None

    def digest(self) -> str:
        """A short fingerprint of everything above: a changed policy is a different image."""
        text = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
