"""The server on each transport and model, on loopback: unix in a temporary directory, udp on 127.0.0.1."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from server.main import ExitCode
from support import ROOT, ServerProcess
from wire import MODELS, models_for, parse_served

STREAM_MODELS = models_for("unix")


def ask_unix(path: str, payload: bytes = b"A") -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(path)
        sock.sendall(payload)
        return sock.recv(1)


@pytest.mark.parametrize("model", STREAM_MODELS)
def test_over_unix_every_model_answers_and_removes_its_socket_on_exit(model, tmp_path: Path):
    path = tmp_path / "run" / "socklab.sock"  # the directory does not exist yet: the server makes it
    with ServerProcess("--model", model, "--transport", "unix", "--socket-path", str(path), "--delay", "0") as server:
        assert server.where == str(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o666, "another container's user must be able to connect"
        assert ask_unix(str(path)) == b"B"
        assert ask_unix(str(path), b"\xff") == b"\x00"
        record = parse_served(server.wait_for(r"served unix:\d+").string)
        assert record is not None and record.peer.address == "unix"
        assert server.terminate() == ExitCode.OK
    assert not path.exists()


def test_over_unix_a_stale_socket_file_from_a_crash_is_replaced(tmp_path: Path):
    path = tmp_path / "socklab.sock"
    with socket.socket(socket.AF_UNIX) as crashed:
        crashed.bind(str(path))  # a socket file nobody listens on: what a killed server leaves
    with ServerProcess("--transport", "unix", "--socket-path", str(path), "--delay", "0"):
        assert ask_unix(str(path)) == b"B"


def _run_server(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_over_unix_a_live_server_or_a_plain_file_at_the_path_is_refused(tmp_path: Path):
    path = tmp_path / "socklab.sock"
    with ServerProcess("--transport", "unix", "--socket-path", str(path), "--delay", "0"):
        live = _run_server("--transport", "unix", "--socket-path", str(path))
        assert ask_unix(str(path), b"0") == b"1", "the first server must keep its socket"
    plain = tmp_path / "file"
    plain.write_text("not a socket")
    other = _run_server("--transport", "unix", "--socket-path", str(plain))
    assert live.returncode == other.returncode == ExitCode.BIND
    assert live.stderr.strip().splitlines() == [f"socklab server: cannot listen on {path}: address already in use"]
    assert other.stderr.strip().splitlines() == [
        f"socklab server: cannot listen on {plain}: {plain} exists and is not a socket"
    ]
    assert plain.read_text() == "not a socket"


def test_over_udp_each_datagram_is_answered_after_the_delay_many_at_once():
    with ServerProcess("--model", "async", "--transport", "udp", "--delay", "0.5") as server:
        senders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(5)]
        started = time.monotonic()
        for i, sender in enumerate(senders):
            sender.settimeout(10)
            sender.sendto(bytes([0x41 + i]), ("127.0.0.1", server.port))
        answers = [sender.recvfrom(16) for sender in senders]
        elapsed = time.monotonic() - started
        for sender in senders:
            sender.close()
        server.wait_for(r"served .*'E' \(0x45\) -> 'F' \(0x46\)")
        assert server.terminate() == ExitCode.OK
    assert [data for data, _ in answers] == [b"B", b"C", b"D", b"E", b"F"]
    assert all(sender == ("127.0.0.1", server.port) for _, sender in answers)
    assert 0.5 <= elapsed < 1.5, f"5 datagrams with delay 0.5 took {elapsed:.2f} s: not answered at once"


def test_over_udp_sigterm_still_answers_the_datagrams_in_flight():
    with ServerProcess("--model", "async", "--transport", "udp", "--delay", "0.5") as server:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.settimeout(10)
            sender.sendto(b"A", ("127.0.0.1", server.port))
            server.wait_for(r"datagram from 127\.0\.0\.1")
            server.proc.send_signal(15)
            server.wait_for(r"stopping: no new connections; 1 in flight")
            assert sender.recv(16) == b"B"
        assert server.proc.wait(timeout=10) == ExitCode.OK


def test_over_udp_datagrams_still_waiting_when_the_grace_ends_are_abandoned():
    args = ("--model", "async", "--transport", "udp", "--delay", "30", "--grace", "0.3")
    with ServerProcess(*args) as server, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(b"A", ("127.0.0.1", server.port))
        server.wait_for(r"datagram from 127\.0\.0\.1")
        server.proc.send_signal(15)
        assert server.proc.wait(timeout=10) == ExitCode.ABANDONED
    assert "1 connection(s) did not finish within the grace period" in server.log()


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="this host has no IPv6 loopback (::1)")
@pytest.mark.parametrize("model", MODELS)
def test_bound_to_ipv6_loopback_every_model_answers_over_ipv6(model):
    with ServerProcess("--model", model, "--bind", "::1", "--delay", "0") as server:
        assert server.where.startswith("[::1]:")
        with socket.create_connection(("::1", server.port), timeout=10) as sock:
            sock.sendall(b"A")
            assert sock.recv(1) == b"B"
        record = parse_served(server.wait_for(r"served ").string)
    assert record is not None and record.peer.address == "::1"


@pytest.mark.parametrize("model", [m for m in MODELS if m not in models_for("udp")])
def test_an_unsupported_model_and_transport_pair_is_one_clear_line_and_exit_2(model):
    done = _run_server("--model", model, "--transport", "udp")
    assert done.returncode == ExitCode.CONFIG
    assert done.stderr.strip().splitlines() == [
        f"socklab server: bad configuration: model {model} does not serve udp; udp is served by async"
    ]


@pytest.mark.parametrize("transport", ["tcp", "unix", "udp"])
def test_the_health_check_works_on_each_transport_and_stays_out_of_the_log(transport, tmp_path: Path):
    path = str(tmp_path / "socklab.sock")
    args = ("--model", "async", "--transport", transport, "--socket-path", path, "--no-log-probes")

    def check(port: int) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SOCKLAB_TRANSPORT": transport, "SOCKLAB_PORT": str(port), "SOCKLAB_SOCKET_PATH": path}
        return subprocess.run(
            [sys.executable, "-m", "server.healthcheck"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
        )

    with ServerProcess(*args, "--delay", "5") as server:
        healthy = check(server.port)
        port = server.port
        assert server.terminate() == ExitCode.OK
    unhealthy = check(port)
    assert healthy.returncode == 0, healthy.stderr
    assert unhealthy.returncode == 1 and unhealthy.stderr.startswith(f"unhealthy: no answer over {transport}")
    assert not re.search(r"^\S+ (empty|accepted|datagram from) ", server.log(), re.MULTILINE), server.log()


@pytest.mark.parametrize("transport", ["unix", "udp"])
def test_the_client_talks_to_the_server_over_the_same_transport(transport, tmp_path: Path):
    path = str(tmp_path / "socklab.sock")
    with ServerProcess("--model", "async", "--transport", transport, "--socket-path", path, "--delay", "0") as server:
        env = {**os.environ, "SOCKLAB_TRANSPORT": transport, "SOCKLAB_SOCKET_PATH": path}
        client = subprocess.run(
            [sys.executable, "-m", "client", "--server", "127.0.0.1", "--port", str(server.port or 9736)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert client.returncode == 0, client.stderr
    assert client.stdout.startswith("char from server = B")


def test_many_unix_clients_are_served_at_the_same_time(tmp_path: Path):
    path = str(tmp_path / "socklab.sock")
    answers: list[bytes] = [b""] * 5
    with ServerProcess("--model", "thread", "--transport", "unix", "--socket-path", path, "--delay", "1"):

        def one(i: int) -> None:
            answers[i] = ask_unix(path)

        started = time.monotonic()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
    assert answers == [b"B"] * 5
    assert elapsed < 2.5
