"""The observer itself, run as the lab runs it (``python -m observer``, commands on stdin, lines on stdout), on a
network namespace of this host's own: a listener with backlog 1 and two clients it never accepts, made by a
process in a namespace of its own (``unshare -n``), which the observer enters (no Docker; root, for setns)."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from observer.protocol import dump, parse
from support import ROOT

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("ip")),
    reason="needs Linux, root (unshare, setns), unshare and ip",
)
pytest.importorskip("pyroute2.netlink.diag")

HOST = """
import socket, sys
listener = socket.socket(); listener.bind(("127.0.0.1", 9736)); listener.listen(1)
clients = [socket.create_connection(("127.0.0.1", 9736)) for _ in range(2)]
print("ready", flush=True)
sys.stdin.readline()
for c in clients: c.close()
print("closed", flush=True)
sys.stdin.readline()
"""


class Lines:
    """A process's stdout lines as they come, waited on with a bound."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(proc,), daemon=True).start()

    def _pump(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.queue.put(line.rstrip("\n"))
        self.queue.put(None)

    def until(self, done: Callable[[str], bool], what: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line {what} in {timeout} s; saw:\n" + "\n".join(self.seen[-30:])) from None
            if line is None:
                raise AssertionError(f"ended before a line {what}; saw:\n" + "\n".join(self.seen[-30:]))
            self.seen.append(line)
            if done(line):
                return line


def sockets_until(lines: Lines, done: Callable[[dict[str, dict[str, Any]]], bool], what: str) -> dict[str, Any]:
    """The latest state of each socket key, read from ``socket`` lines until ``done`` holds."""
    latest: dict[str, dict[str, Any]] = {}

    def read(line: str) -> bool:
        msg, fields = parse(line)
        if msg == "socket":
            latest[fields["socket"]["key"]] = fields["socket"]
        return done(latest)

    lines.until(read, what)
    return latest


@pytest.fixture
def host():
    proc = subprocess.Popen(
        ["unshare", "-n", "sh", "-c", f"ip link set lo up && exec {sys.executable} -c '{HOST}'"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines = Lines(proc)
    try:
        lines.until(lambda line: line == "ready", "ready")
        yield proc, lines
    finally:
        proc.kill()
        proc.wait()


def test_it_samples_a_namespace_it_entered_and_reports_only_changes(host):
    proc, host_lines = host
    observer = subprocess.Popen(
        [sys.executable, "-m", "observer"],
        cwd=ROOT / "agents",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines = Lines(observer)
    assert observer.stdin is not None and proc.stdin is not None
    try:
        observer.stdin.write(dump("watch", ns="lab", pid=proc.pid, interval_s=0.05, capture=False, server=True) + "\n")
        observer.stdin.flush()
        watching = parse(lines.until(lambda line: '"watching"' in line, "watching"))[1]
        assert (watching["ns"], watching["pid"], watching["capture"]) == ("lab", proc.pid, False)

        def queued(latest: dict[str, dict[str, Any]]) -> bool:
            listener = latest.get("127.0.0.1:9736")
            established = [s for s in latest.values() if s["state"] == "ESTABLISHED"]
            return bool(listener and listener["recv_q"] == 2 and len(established) == 4)

        latest = sockets_until(lines, queued, "with the listener's queue at 2 and four ends established")
        assert latest["127.0.0.1:9736"]["backlog"] == 1  # backlog 1 holds 2: Linux's "more than backlog"

        proc.stdin.write("close\n")
        proc.stdin.flush()
        host_lines.until(lambda line: line == "closed", "closed")
        # The clients closed first: their ends wait in FIN_WAIT2 or TIME_WAIT, the never-accepted ones in CLOSE_WAIT.
        after = sockets_until(
            lines,
            lambda latest: sum(s["state"] == "CLOSE_WAIT" for s in latest.values()) == 2,
            "with the two unaccepted ends in CLOSE_WAIT",
        )
        assert {s["state"] for s in after.values() if s["local"] != "127.0.0.1:9736"} <= {
            "CLOSE_WAIT",
            "FIN_WAIT2",
            "TIME_WAIT",
        }
        quiet = len(lines.seen)
        observer.stdin.write(dump("forget", ns="lab") + "\n")
        observer.stdin.flush()
        lines.until(lambda line: '"forgotten"' in line, "forgotten")
        sampled = next(parse(line)[1] for line in lines.seen[quiet:] if '"sampled"' in line)
        assert sampled["samples"] >= 3 and 0 < sampled["mean_s"] <= 0.1, sampled  # asked for every 0.05 s
        changed = [json.loads(line) for line in lines.seen[quiet:] if '"socket"' in line]
        assert all(c["socket"]["state"] != "ESTABLISHED" for c in changed)  # nothing unchanged said again
    finally:
        observer.stdin.close()
        assert observer.wait(timeout=10) == 0
