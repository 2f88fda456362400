"""Debian packages on this host: what socklab needs installed here, installed only with the user's consent.

Three things socklab runs on the host come from Debian packages: ``musl-gcc`` (the C witnesses are static
musl binaries), ``debootstrap`` (the swarm's node image) and the browser the live view's tests drive
(``chromium``, ``chromium-driver``). Nothing is installed unless the user said so (``--install-missing``,
``SOCKLAB_INSTALL_MISSING=1``, which ``make`` passes); otherwise the error names the command to run.

apt allows one writer at a time. socklab's own processes (test workers, a command beside a test run) take
turns under one machine-wide lock; a foreign apt (unattended upgrades, a user's ``apt-get``) holding dpkg's
lock is waited for (``DPkg::Lock::Timeout``), and one holding the package lists' lock, which that option does
not cover, is waited for by trying again: never "Could not get lock" as a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence

from socklab import hostcmd
from socklab.images.errors import MissingTool
from socklab.progress import Progress, quiet
from socklab.wire.knobs import env_name

__all__ = ["LOCK_WAIT", "install", "install_command", "missing", "update_lists"]

LOCK_WAIT = 600  # seconds we wait for another apt to finish before giving up
_ENV = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
_LOCKED = ("Could not get lock", "Unable to lock", "Unable to acquire the dpkg frontend lock")


def install_command(packages: Sequence[str]) -> list[str]:
    """What installs ``packages``, as a user would type it (the error messages show it)."""
    return ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]


def _installed(package: str) -> bool:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Status}", package], capture_output=True, text=True, check=False
    )
    return done.returncode == 0 and done.stdout.strip() == "installed"


def missing(packages: Sequence[str]) -> list[str]:
    """The packages of ``packages`` that are not installed on this host."""
    if shutil.which("dpkg-query") is None:
        return list(packages)
    return [package for package in packages if not _installed(package)]


def _apt(args: Sequence[str], *, what: str, progress: Progress) -> subprocess.CompletedProcess[str]:
    """``apt-get ARGS``, waiting for another apt that holds one of its locks, up to ``LOCK_WAIT`` seconds."""
    command = ["apt-get", "-o", f"DPkg::Lock::Timeout={LOCK_WAIT}", *args]
    deadline = time.monotonic() + LOCK_WAIT
    told = False
    while True:
        done = subprocess.run(command, capture_output=True, text=True, env=_ENV, check=False)
        said = done.stderr + done.stdout
        if done.returncode == 0 or not any(words in said for words in _LOCKED) or time.monotonic() > deadline:
            return done
        if not told:
            progress(f"{what}: another apt holds a lock; waiting for it (up to {LOCK_WAIT} s)")
            told = True
        time.sleep(1.0)  # a poll of apt's lock, which has no event to wait on: apt itself polls it each second


def update_lists(*, progress: Progress = quiet) -> None:
    """``apt-get update``: the package lists, when a package or a version is not found in them."""
    done = _apt(["update", "-q"], what="apt-get update", progress=progress)
    if done.returncode != 0:
        raise MissingTool(f"`apt-get update` failed: {(done.stderr or done.stdout).strip()[-1000:]}")


def install(packages: Sequence[str], *, why: str, consent: bool, progress: Progress = quiet) -> list[str]:
    """Install what is missing of ``packages`` (for ``why``: "the C witnesses need musl-gcc"); return it.

    Without ``consent`` a missing package is a ``MissingTool`` that says how to install it. Concurrent callers
    install once: the second waits for the first and finds nothing left to do.
    """
    if not missing(packages):
        return []
    command = install_command(missing(packages))
    if not consent:
        raise MissingTool(
            f"{why}: install it with `sudo {' '.join(command)}`, or pass --install-missing "
            f"({env_name('install_missing')}=1; `make` does) to let socklab do it"
        )
    if os.geteuid() != 0:
        raise MissingTool(f"{why}; installing it needs root: run `sudo {' '.join(command)}`")
    with hostcmd.locked(hostcmd.lock_file("apt"), what="apt-get (one install at a time)", waiting=progress):
        wanted = missing(packages)  # whoever held the lock may have installed them
        if not wanted:
            return []
        progress(f"installing on this host, as asked: {' '.join(install_command(wanted))}")
        started = time.monotonic()
        done = _apt(install_command(wanted)[1:], what="apt-get install", progress=progress)
        if done.returncode != 0:  # the usual cause: package lists missing or out of date
            progress("apt-get install failed; updating the package lists and trying again")
            update_lists(progress=progress)
            done = _apt(install_command(wanted)[1:], what="apt-get install", progress=progress)
        if done.returncode != 0:
            raise MissingTool(f"`{' '.join(install_command(wanted))}` failed: {done.stderr.strip()[-1000:]}")
        progress(f"installed {' '.join(wanted)} in {time.monotonic() - started:.1f} s")
        return wanted
