"""Entering another process's network namespace for a moment, to make sockets that stay bound to it.

A socket belongs to the network namespace its maker was in when it was made, for its whole life, wherever
the maker goes afterwards. So the observer enters a lab container's namespace (``setns(2)`` on
``/proc/PID/ns/net``), makes its netlink and packet sockets there and comes back: from then on one process
reads every namespace. ``setns`` moves the calling thread only; ``entered`` always moves it back.

Python 3.11's ``os`` has no ``setns`` (3.12 has), so it is called through ctypes. It needs CAP_SYS_ADMIN,
and opening another container's ``/proc/PID/ns/net`` needs CAP_SYS_PTRACE and the host's PID namespace.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Callable, Iterator

CLONE_NEWNET = 0x40000000

__all__ = ["CLONE_NEWNET", "entered", "setns"]


def _libc_setns() -> Callable[[int, int], None]:
    libc = ctypes.CDLL(None, use_errno=True)

    def call(fd: int, nstype: int) -> None:
        if libc.setns(fd, nstype) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns: {os.strerror(errno)}")

    return call


setns: Callable[[int, int], None] = getattr(os, "setns", None) or _libc_setns()


@contextlib.contextmanager
def entered(pid: int) -> Iterator[None]:
    """This thread in the network namespace of process ``pid`` (a host PID) until the block ends."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            setns(target, CLONE_NEWNET)
        finally:
            os.close(target)
        try:
            yield
        finally:
            setns(own, CLONE_NEWNET)
    finally:
        os.close(own)
