"""The impairment proxy's control port: toxics set and cleared while connections go through, no Docker.

The proxy runs as a process on loopback in front of the real server (also on loopback); each test waits on
their log lines, and measures an exchange's time only against the toxic it set (hundreds of ms)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from socklab.load.exchange import ask
from support import ROOT, ServerProcess


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Proxy:
    def __init__(self, upstream: int) -> None:
        self.port, self.control_port = free_port(), free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "impair",
                f"--port={self.port}",
                f"--upstream=127.0.0.1:{upstream}",
                f"--control-port={self.control_port}",
                "--seed=7",
            ],
            cwd=ROOT / "agents",
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None
        line = self.process.stderr.readline()
        assert "listening on" in line and "control on" in line, line

    def set(self, toxics: dict) -> dict:
        with socket.create_connection(("127.0.0.1", self.control_port), timeout=5) as conn:
            conn.sendall(json.dumps({"toxics": toxics}).encode() + b"\n")
            return json.loads(conn.makefile().readline())


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    with ServerProcess("--delay", "0") as server:
        proxy = Proxy(server.port)
        try:
            yield proxy
        finally:
            proxy.process.terminate()
            proxy.process.wait(timeout=15)


def timed(proxy: Proxy) -> float:
    started = time.monotonic()
    answer = ask("127.0.0.1", proxy.port, b"A", timeout=10)
    assert answer.reply == b"B"
    return time.monotonic() - started


def test_a_toxic_set_through_the_control_port_applies_and_clearing_it_restores(proxy: Proxy) -> None:
    assert timed(proxy) < 0.29  # the loopback alone
    said = proxy.set({"latency_ms": 300, "streams": ["downstream"]})
    assert said == {"ok": True, "toxics": "latency 300 ms ± 0 ms on downstream"}
    # The answer comes at least 300 ms late (not "300 ms later than a run before": on a loaded machine the
    # one before took 17 ms and the delayed one 288 ms more, a latency of 300 all the same).
    assert timed(proxy) >= 0.29
    assert proxy.set({})["toxics"].startswith("no toxics")
    assert timed(proxy) < 0.29


def test_a_stall_holds_the_answer_until_its_toxic_is_removed(proxy: Proxy) -> None:
    proxy.set({"timeout_ms": 0, "streams": ["downstream"]})
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as conn:
        conn.sendall(b"A")
        conn.settimeout(0.5)
        with pytest.raises(TimeoutError):
            conn.recv(1)
        proxy.set({})
        conn.settimeout(10)
        assert conn.recv(1) == b"B"


def test_a_bad_message_is_refused_and_names_the_problem(proxy: Proxy) -> None:
    said = proxy.set({"latency_ms": 10, "jitter_ms": 20})
    assert said["ok"] is False and "jitter at most the latency" in said["error"]
    said = proxy.set({"lag": 5})
    assert said["ok"] is False and "unknown toxic field(s) lag" in said["error"]
