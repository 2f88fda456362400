"""SOCKLAB_LOG (connections | summary | off) in every model, and the epoll model's workers."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from support import ROOT, ServerProcess
from wire import MODELS

SUMMARY = re.compile(r"summary: accepted (\d+), served (\d+), in flight (\d+), errors (\d+)")


def ask(port: int, char: bytes = b"A") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(char)
        return sock.recv(1)


def ask_many(port: int, count: int) -> list[bytes]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: ask(port), range(count)))


def last_summary(lines: list[str]) -> tuple[int, ...]:
    found = [tuple(map(int, m.groups())) for line in lines if (m := SUMMARY.search(line))]
    assert found, "no summary line:\n" + "\n".join(lines)
    return found[-1]


@pytest.mark.parametrize("model", MODELS)
def test_the_summary_counts_add_up_and_no_connection_is_logged(model: str) -> None:
    with ServerProcess("--model", model, "--delay", "0.2", "--log", "summary") as server:
        assert ask_many(server.port, 8) == [b"B"] * 8
        with socket.create_connection(("127.0.0.1", server.port)):
            pass  # one that closes without sending: an error, not a served connection
        server.wait_for(r"summary: accepted 9, served 8, in flight 0, errors 1", timeout=10)
        assert server.terminate() == 0
    assert last_summary(server.lines) == (9, 8, 0, 1)
    events = [line.split(" ", 2)[1] for line in server.lines]
    assert "served" not in events and "accepted" not in events


@pytest.mark.parametrize("model", MODELS)
def test_off_keeps_only_the_start_and_stop_lines(model: str) -> None:
    with ServerProcess("--model", model, "--delay", "0", "--log", "off") as server:
        assert ask(server.port) == b"B"
        assert server.terminate() == 0
    assert [line.split(" ", 1)[1].split(":")[0] for line in server.lines] == [
        server.lines[0].split(" ", 1)[1].split(":")[0],
        "stopping",
        "stopped",
    ]


def test_epoll_workers_share_the_port_and_drain_together() -> None:
    with ServerProcess("--model", "epoll", "--delay", "0.5", "--log", "summary", "--workers", "3") as server:
        assert ask_many(server.port, 30) == [b"B"] * 30
        # Held connections when SIGTERM comes: every worker answers its own before the parent exits 0.
        with ThreadPoolExecutor(max_workers=12) as pool:
            pending = [pool.submit(ask, server.port) for _ in range(12)]
            server.wait_for(r"summary: accepted 42", timeout=10)
            server.proc.send_signal(15)
            answers = [future.result() for future in pending]
        assert server.proc.wait(timeout=20) == 0
    assert answers == [b"B"] * 12
    assert last_summary(server.lines) == (42, 42, 0, 0)
    assert server.lines[-1].endswith("stopped: every accepted connection was answered")


def test_workers_need_the_epoll_model() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "server", "--model", "fork", "--workers", "2"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "workers 2 needs model epoll" in done.stderr
