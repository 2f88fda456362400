"""The C reference server and the C load generator on loopback: correctness under load, never speed."""

from __future__ import annotations

import itertools
import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.log import parse_served
from socklab.load.c_loader import LoadResult

SUMMARY = re.compile(r"summary: accepted (\d+), served (\d+), in flight (\d+), errors (\d+)")


class CServer:
    """agents/peers/build/epoll_server on 127.0.0.1 with a free port; readiness is its 'listening on' line."""

    def __init__(self, build: Path, **env: str) -> None:
        self.proc = subprocess.Popen(
            [str(build / "epoll_server")],
            env={**os.environ, "SOCKLAB_PORT": "0", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.port = int(self.wait_for(r"listening on 0\.0\.0\.0:(\d+)")[1])

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r}:\n" + "\n".join(self.lines)) from None
            if line is None:
                raise AssertionError(f"server exited before {pattern!r}:\n" + "\n".join(self.lines))
            self.lines.append(line)
            if match := re.search(pattern, line):
                return match

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return code


@pytest.fixture
def c_server(c_peers: Path) -> Iterator[type[CServer]]:
    started: list[CServer] = []

    def make(**env: str) -> CServer:
        server = CServer(c_peers, **env)
        started.append(server)
        return server

    yield make  # type: ignore[misc]
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()


def load(build: Path, port: int, *args: str) -> LoadResult:
    done = subprocess.run(
        [str(build / "loadgen"), "--server", "127.0.0.1", "--port", str(port), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return LoadResult.from_json(json.loads(done.stdout))


def test_held_clients_are_all_answered_and_the_summary_adds_up(c_peers: Path, c_server) -> None:
    server = c_server(SOCKLAB_DELAY="0.5", SOCKLAB_LOG="summary", SOCKLAB_BACKLOG="4096", SOCKLAB_WORKERS="2")
    result = load(c_peers, server.port, "--mode", "hold", "--clients", "2000", "--threads", "2", "--samples")
    assert (result.ok, result.failed) == (2000, 0), result.errors
    assert min(result.samples_ms) >= 500.0  # nobody was answered before the delay
    assert server.stop() == 0
    accepted, served, in_flight, errors = map(int, SUMMARY.findall("\n".join(server.lines))[-1])
    assert (accepted, served, in_flight, errors) == (2000, 2000, 0, 0)


def test_every_byte_gets_its_successor(c_peers: Path, c_server) -> None:
    # A backlog for the 50 at once: with the lesson's 5, a loaded machine drops SYNs and this would measure that.
    server = c_server(SOCKLAB_DELAY="0", SOCKLAB_LOG="off", SOCKLAB_BACKLOG="64")
    result = load(c_peers, server.port, "--mode", "hold", "--clients", "50", "--char", "0xff")
    assert (result.ok, result.failed) == (50, 0)
    assert server.stop() == 0


def test_the_loader_counts_a_wrong_answer(c_peers: Path) -> None:
    """An echo server (answers the byte unchanged): the loader's check of every answer is real."""
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def echo() -> None:
            for _ in range(3):
                conn, _address = listener.accept()
                with conn:
                    conn.sendall(conn.recv(1))

        thread = threading.Thread(target=echo, daemon=True)
        thread.start()
        result = load(c_peers, listener.getsockname()[1], "--mode", "hold", "--clients", "3")
        thread.join(timeout=10)
    assert result.ok == 0 and result.errors == {"wrong_answer": 3}


def test_closed_and_open_loop_modes_answer_without_failures(c_peers: Path, c_server) -> None:
    server = c_server(SOCKLAB_DELAY="0", SOCKLAB_LOG="off", SOCKLAB_BACKLOG="1024")
    closed = load(c_peers, server.port, "--mode", "closed", "--threads", "2", "--concurrency", "4", "--seconds", "0.5")
    assert closed.ok > 0 and closed.failed == 0 and closed.answered >= closed.ok
    opened = load(c_peers, server.port, "--mode", "open", "--rate", "200", "--seconds", "0.5")
    assert (opened.ok, opened.failed) == (100, 0)
    server.stop()


def test_connection_log_lines_are_socklabs(c_peers: Path, c_server) -> None:
    server = c_server(SOCKLAB_DELAY="0")
    load(c_peers, server.port, "--mode", "hold", "--clients", "3", "--char", "z")
    assert server.stop() == 0
    served = [record for line in server.lines if (record := parse_served(line))]
    assert [(r.request, r.reply) for r in served] == [(ord("z"), ord("{"))] * 3
    assert server.lines[-1].endswith("stopped: every accepted connection was answered")


def test_loader_reports_refused_connections(c_peers: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        result = load(c_peers, sock.getsockname()[1], "--mode", "hold", "--clients", "3")
    assert result.ok == 0 and result.errors == {"refused": 3}


def test_open_loop_with_a_tick_starts_its_exchanges_in_batches(c_peers: Path) -> None:
    """--tick 0.05 at 400/s for 0.5 s: 200 exchanges in 10 batches of 20 (how tcpkali paces its connects),
    seen from the server's side as accepts bunched at the ticks with quiet gaps between them."""
    accepted: list[float] = []
    with socket.create_server(("127.0.0.1", 0), backlog=1024) as listener:

        def answer() -> None:
            for _ in range(200):
                conn, _address = listener.accept()
                accepted.append(time.monotonic())
                with conn:
                    conn.sendall(bytes([conn.recv(1)[0] + 1]))

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        port = listener.getsockname()[1]
        result = load(c_peers, port, "--mode", "open", "--rate", "400", "--seconds", "0.5", "--tick", "0.05")
        thread.join(timeout=10)
    assert (result.ok, result.failed) == (200, 0), result.errors
    batches = 1 + sum(1 for a, b in itertools.pairwise(accepted) if b - a > 0.025)
    assert 9 <= batches <= 11, f"{batches} batches of accepts, expected 10 (one per 50 ms tick)"
