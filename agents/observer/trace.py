"""``python3 -m observer.trace``: strace on every process of the PID namespace it runs in, as protocol lines.

Run in a sidecar that joins a server's PID namespace (``pid_mode="container:<id>"``) with SYS_PTRACE: the
server's processes are those of its container (``_processes``). It says ``attached`` once strace holds them, with
``from_start``: whether none of them had a socket open yet (a server that waited for its tracer before
``socket()``, ``SOCKLAB_WAIT_FOR_TRACER``), so the lane shows socket, bind and listen; else it starts at the
attachment. Then one ``syscall`` line per call of the lesson's (``strace.CALLS``), a first one as soon as a
call has been blocking for ``BLOCKED`` seconds (``done`` false), and ``exited`` per process. It ends with
strace: when the server ends, or this container is removed.
"""

from __future__ import annotations

import argparse
import os
import re
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO, Any

from .protocol import dump
from .sockets import Sampler, names_of
from .strace import CALLS, Exit, Strace, Syscall

BLOCKED = 0.02  # seconds a call may stay open before it is said to block (most return within microseconds)
STRING_LIMIT = 32  # bytes of read and write buffers strace shows
ATTACHED = re.compile(r"Process (\d+) attached")
REFUSED = re.compile(r"attach: ptrace\(PTRACE_SEIZE, (\d+)\)")  # gone, or not ours to trace: not waited for


def say(msg: str, **fields: Any) -> None:
    sys.stdout.write(dump(msg, **fields) + "\n")
    sys.stdout.flush()


def _cgroup(pid: int | str) -> str | None:
    try:
        with open(f"/proc/{pid}/cgroup") as groups:
            return groups.read()
    except OSError:
        return None  # it ended while we looked


def _processes() -> list[int]:
    """The server's processes: those in its container's cgroup (its PID 1's). Not this tracer, nor one on its
    way out (whose orphans the server's PID 1 adopts), which share the PID namespace but not the cgroup."""
    server = _cgroup(1)
    return sorted(int(name) for name in os.listdir("/proc") if name.isdigit() and _cgroup(name) == server)


def _has_socket(pid: int) -> bool:
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:") for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def command(pids: Sequence[int], calls: Sequence[str]) -> list[str]:
    trace = ["-e", f"trace={','.join(calls)}", "-s", str(STRING_LIMIT)]
    return ["strace", "-f", "-ttt", "-T", "-y", *trace, "-o", "/dev/stdout", *(f"-p{pid}" for pid in pids)]


def _messages(stream: IO[bytes], pids: Sequence[int], from_start: bool) -> None:
    """strace's own lines (stderr): ``attached`` once every process is held (or refused: one that ended
    meanwhile); its complaints as ``failed``."""
    waiting, refused = set(pids), set[int]()
    for raw in stream:
        line = raw.decode(errors="replace").strip()
        found = ATTACHED.search(line) or REFUSED.search(line)
        if found:
            waiting.discard(int(found[1]))
            if found.re is REFUSED:
                refused.add(int(found[1]))
                say("failed", t=time.time(), error=line[:500])
            held = [pid for pid in pids if pid not in refused]
            if not waiting and held:
                say("attached", t=time.time(), pids=held, from_start=from_start)
                waiting = {-1}  # said once
        elif line and "detached" not in line:
            say("failed", t=time.time(), error=line[:500])


class Names:
    """A socket's key (``local>peer``, as the socket events write it) by its inode, from this namespace's
    INET_DIAG: the tracer is in the server's network namespace. strace ``-y`` names a socket by inode only;
    ``-yy`` would name its ends, but asks the kernel at every call it prints, which the server waits for (1.2 ms
    an exchange measured, against 0.2 ms). Here one dump is made per socket not seen before, while the server
    runs on. A connection already closed when its accept is read (delay 0) stays unnamed."""

    def __init__(self) -> None:
        self.known: dict[int, str] = {}
        self.missed: set[int] = set()
        self.sampler: Sampler | None = None

    def __call__(self, inode: int) -> str | None:
        if inode not in self.known and inode not in self.missed:
            if self.sampler is None:
                self.sampler = Sampler()
            self.known.update(names_of(self.sampler.raw()))
            if inode not in self.known:
                self.missed.add(inode)
        return self.known.get(inode)


def _publish(event: Syscall | Exit, names: Names) -> None:
    if isinstance(event, Exit):
        say("exited", t=event.t, pid=event.pid, status=event.status)
        return
    fields = {name: getattr(event, name) for name in ("t", "pid", "call", "args", "result", "seconds", "done")}
    socket = event.socket if event.socket or event.inode is None else names(event.inode)
    say("syscall", **fields, fd=event.fd, socket=socket)


def follow(stream: IO[bytes]) -> None:
    """strace's trace (stdout), line by line; a call still open after ``BLOCKED`` seconds is said once as
    blocked (``done`` false), then again when it returns."""
    parser, pending, names = Strace(), b"", Names()
    seen: dict[tuple[int, float], float] = {}  # open call (pid, t) -> when this reader first saw it open
    told: set[tuple[int, float]] = set()
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    while True:
        due = [first + BLOCKED for key, first in seen.items() if key not in told]
        if selector.select(timeout=max(0.0, min(due) - time.monotonic()) if due else None):
            data = os.read(stream.fileno(), 65536)
            if not data:
                return
            *lines, pending = (pending + data).split(b"\n")
            for line in lines:
                for event in parser.line(line.decode(errors="replace")):
                    _publish(event, names)
        now = time.monotonic()
        entries = {(e.pid, e.t): e for e in parser.opened(pending.decode(errors="replace"))}
        seen = {key: seen.get(key, now) for key in entries}
        told &= entries.keys()
        for key, entry in entries.items():
            if key not in told and now - seen[key] >= BLOCKED:
                told.add(key)
                _publish(entry, names)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m observer.trace")
    parser.add_argument("--calls", default=",".join(CALLS), help="the system calls to show")
    args = parser.parse_args(argv)
    pids = _processes()
    if not pids:
        say("failed", t=time.time(), error="no process to trace in this PID namespace")
        return 2
    from_start = not any(_has_socket(pid) for pid in pids)
    strace = subprocess.Popen(command(pids, args.calls.split(",")), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert strace.stdout is not None and strace.stderr is not None
    threading.Thread(target=_messages, args=(strace.stderr, pids, from_start), daemon=True).start()
    follow(strace.stdout)
    return strace.wait()


if __name__ == "__main__":
    raise SystemExit(main())
