"""The probes on this machine's loopback (no Docker): they run and report what the kernel did."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from probes import kernel
from support import ROOT

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the probes read Linux's /proc")


def run_probe(*args: str, timeout: float = 30) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT / "agents", capture_output=True, text=True, timeout=timeout, check=True
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_counters_have_the_listen_overflow_names():
    counters = kernel.counters()
    assert "ListenOverflows" in counters["TcpExt"] and "RetransSegs" in counters["Tcp"]


def test_a_sleeping_process_shows_state_and_wait_channel():
    code = "import time; print('sleeping', flush=True); time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "sleeping\n"
        for _ in range(1000):  # the last microseconds between the print and the sleep
            seen = kernel.process(child.pid)
            if seen["state"] == "S" and "nanosleep" in seen["wchan"]:
                break
        assert seen["state"] == "S" and "nanosleep" in seen["wchan"] and seen["ppid"] == os.getpid()
    finally:
        child.kill()
        child.wait()


def test_the_fifo_pair_answers_blocks_and_ends_with_eof():
    (done,) = run_probe("probes.fifo", "--delay", "0.3")
    assert done["answer"] == "B" and done["eof_after_close"]
    assert done["read_blocked_seconds"] >= 0.25
    assert done["read_on_write_end"] == "EBADF" and done["mode"].startswith("p")


def test_order_probe_sees_few_reads_and_whole_datagrams():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    server = subprocess.Popen(
        [sys.executable, "-m", "probes.order", "serve", "--port", port],
        cwd=ROOT / "agents",
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        assert json.loads(server.stdout.readline())["event"] == "listening"
        run_probe("probes.order", "send", "--server", "127.0.0.1", "--port", port, "--writes", "200")
        events = {e["event"]: e for e in map(json.loads, server.stdout)}
    finally:
        server.kill()
        server.wait()
    assert events["tcp_done"]["bytes"] == 2000 and events["tcp_done"]["in_order"]
    assert events["tcp_done"]["reads"] < 200
    assert events["udp_done"]["sizes"] == [10]
