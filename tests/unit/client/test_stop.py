"""SIGTERM to a client making many exchanges: the one in flight finishes, no other starts, all are printed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from support import ROOT, ServerProcess


def client(port: int, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "client", "--server", "127.0.0.1", "--port", str(port), "--json", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigterm_lets_the_exchange_in_flight_finish_and_starts_no_other() -> None:
    with ServerProcess("--delay", "1") as server:
        process = client(server.port, "--repeat", "100")
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())  # one exchange done: the next is under way
        assert first["outcome"] == "ok"
        server.wait_for(r"accepted 127\.0\.0\.1")  # the first exchange's connection
        server.wait_for(r"accepted 127\.0\.0\.1")  # the second one's: in flight when the signal comes
        process.send_signal(signal.SIGTERM)
        rest = [json.loads(line) for line in process.stdout]
        assert process.wait(timeout=10) == 0
        results = [first, *rest]
        assert len(results) == 2, f"{len(results)} exchanges: the one in flight, then no other"
        assert all(r["outcome"] == "ok" and r["received"] == "B" for r in results)


def test_sigterm_before_the_go_ends_it_with_nothing_asked() -> None:
    with ServerProcess("--delay", "0") as server:
        process = client(server.port, "--wait-for-go")
        assert process.stderr is not None
        assert "ready" in process.stderr.readline()
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
        assert process.returncode == 0 and out == ""
