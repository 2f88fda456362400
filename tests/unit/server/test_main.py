"""The server process on a loopback port: every model, its failures, its SIGTERM drain."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from server.main import ExitCode
from support import ROOT, ServerProcess
from wire import CONTRACT_MODELS, MODELS, parse_served

CONCURRENT_MODELS = list(CONTRACT_MODELS)
ALL_MODELS = list(MODELS)


def ask(port: int, payload: bytes = b"A", timeout: float = 10.0) -> tuple[bytes, float]:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        return sock.recv(1), time.monotonic() - started


def ask_many(port: int, count: int) -> list[tuple[bytes, float]]:
    results: list[tuple[bytes, float]] = [(b"", 0.0)] * count

    def one(i: int) -> None:
        results[i] = ask(port)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("model", ALL_MODELS)
def test_answers_a_with_b_and_wraps_ff(model):
    with ServerProcess("--model", model, "--delay", "0") as server:
        assert ask(server.port)[0] == b"B"
        assert ask(server.port, b"\xff")[0] == b"\x00"
        server.wait_for(r"served .*0xff\) -> 0x00|served .*0xff -> 0x00")


@pytest.mark.parametrize("model", ALL_MODELS)
def test_the_answer_never_comes_before_the_delay(model):
    with ServerProcess("--model", model, "--delay", "0.4") as server:
        answer, seconds = ask(server.port)
        assert answer == b"B"
        assert seconds >= 0.4


def _log_order(server: ServerProcess, clients: int) -> list[str]:
    """The server's ``accepted`` and ``served`` events, in the order it logged them."""
    for _ in range(clients):
        server.wait_for(r"served ")
    return [line.split()[1] for line in server.lines if line.split()[1:2] in (["accepted"], ["served"])]


@pytest.mark.parametrize("model", CONCURRENT_MODELS)
def test_clients_are_served_at_the_same_time(model):
    # Concurrent means: every client was accepted before the first one was answered.
    with ServerProcess("--model", model, "--delay", "1") as server:
        results = ask_many(server.port, 5)
        order = _log_order(server, 5)
    assert [answer for answer, _ in results] == [b"B"] * 5
    assert order == ["accepted"] * 5 + ["served"] * 5, f"not served concurrently: {order}"


def test_the_serial_model_serves_one_at_a_time():
    # The witness that the concurrency test above can fail: the next client is accepted only after an answer.
    with ServerProcess("--model", "serial", "--delay", "0.3") as server:
        results = ask_many(server.port, 3)
        order = _log_order(server, 3)
    assert [answer for answer, _ in results] == [b"B"] * 3
    assert order == ["accepted", "served"] * 3


@pytest.mark.parametrize("model", ALL_MODELS)
def test_one_log_line_per_connection_names_the_peer(model):
    with ServerProcess("--model", model, "--delay", "0") as server:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            own = sock.getsockname()
            sock.sendall(b"A")
            assert sock.recv(1) == b"B"
        record = parse_served(server.wait_for(r"served ").string)
    assert record is not None
    assert (record.peer.address, record.peer.port, record.request, record.reply) == (own[0], own[1], 0x41, 0x42)


@pytest.mark.parametrize("model", ALL_MODELS)
def test_an_idle_client_is_closed_and_others_are_still_served(model):
    with ServerProcess("--model", model, "--delay", "0", "--idle-timeout", "0.5") as server:
        idle = socket.create_connection(("127.0.0.1", server.port))
        if model != "serial":  # a serial server is busy with the idle client: that is its nature
            assert ask(server.port)[0] == b"B"
        idle.settimeout(5)
        assert idle.recv(1) == b"", "the server should close an idle client"
        idle.close()
        server.wait_for(r"idle 127\.0\.0\.1:\d+: sent nothing in 0\.5 s, closed")
        assert ask(server.port)[0] == b"B"


@pytest.mark.parametrize("model", ALL_MODELS)
def test_a_client_that_closes_without_sending_is_logged_and_harms_nobody(model):
    with ServerProcess("--model", model, "--delay", "0") as server:
        socket.create_connection(("127.0.0.1", server.port)).close()
        server.wait_for(r"empty 127\.0\.0\.1:\d+: closed without sending")
        assert ask(server.port)[0] == b"B"


def test_health_probes_from_loopback_are_not_logged_by_default():
    # The server's default; the tests' ServerProcess turns it on to see every loopback client.
    with ServerProcess("--delay", "0", "--no-log-probes") as server:
        socket.create_connection(("127.0.0.1", server.port)).close()
        assert ask(server.port)[0] == b"B"
        server.wait_for(r"served ")
    assert "empty" not in server.log() and "accepted" not in server.log()
    assert server.log().count("server waiting") == 1


@pytest.mark.parametrize("model", ALL_MODELS)
def test_sigterm_lets_accepted_connections_finish_then_exits_0(model):
    with ServerProcess("--model", model, "--delay", "1") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"A")
            server.wait_for(r"accepted 127\.0\.0\.1")
            server.proc.send_signal(15)
            # A serial server is busy answering, so nothing is in flight beside the answer it is giving.
            server.wait_for(r"stopping: no new connections; [01] in flight")
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", server.port), timeout=2)
            assert sock.recv(1) == b"B"
        assert server.proc.wait(timeout=10) == ExitCode.OK
    assert "stopped: every accepted connection was answered" in server.log()


def test_sigterm_still_serves_connections_the_kernel_had_queued():
    # A serial server is busy with the first client; the second waits in the listen backlog, accepted by
    # the kernel but not yet by the server. Closing the listener would reset it: the drain serves it.
    with ServerProcess("--model", "serial", "--delay", "1") as server:
        first = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        first.sendall(b"A")
        server.wait_for(r"accepted 127\.0\.0\.1")
        second = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        second.sendall(b"y")
        server.proc.send_signal(15)
        with first, second:
            assert first.recv(1) == b"B"
            assert second.recv(1) == b"z"
        assert server.proc.wait(timeout=10) == ExitCode.OK


@pytest.mark.parametrize("model", CONCURRENT_MODELS)
def test_connections_still_open_when_the_grace_ends_are_abandoned(model):
    with ServerProcess("--model", model, "--delay", "30", "--grace", "0.3") as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        with sock:
            sock.sendall(b"A")
            server.wait_for(r"accepted 127\.0\.0\.1")
            server.proc.send_signal(15)
            assert server.proc.wait(timeout=10) == ExitCode.ABANDONED
    assert "1 connection(s) did not finish within the grace period" in server.log()


def test_fork_children_are_reaped():
    with ServerProcess("--model", "fork", "--delay", "0") as server:
        for _ in range(5):
            assert ask(server.port)[0] == b"B"
        deadline = time.monotonic() + 5
        while (zombies := _zombie_children(server.proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling a condition with a deadline, not waiting for readiness
        assert zombies == [], f"zombie children remain: {zombies}"


def _zombie_children(pid: int) -> list[int]:
    zombies = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] == "Z" and int(fields[1]) == pid:
                zombies.append(int(entry.name))
    return zombies


def _run_server(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
    )


def test_a_port_in_use_is_one_clear_line_and_exit_3():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run_server("--bind", "127.0.0.1", "--port", str(port))
    assert done.returncode == ExitCode.BIND
    assert done.stderr.strip().splitlines() == [
        f"socklab server: cannot listen on 127.0.0.1:{port}: address already in use"
    ]


def test_bad_configuration_is_one_clear_line_and_exit_2():
    done = _run_server(env={"SOCKLAB_BACKLOG": "lots"})
    assert done.returncode == ExitCode.CONFIG
    assert done.stderr.strip().splitlines() == [
        "socklab server: bad configuration: SOCKLAB_BACKLOG='lots': invalid literal for int() with base 10: 'lots'"
    ]
