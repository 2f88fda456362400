"""The client against small fake servers on loopback: every outcome and its exit code."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from client.config import ClientConfig
from client.errors import CouldNotConnect, ExitCode
from client.exchange import connect, exchange
from client.main import main
from support import ROOT
from wire import GO_SIGNAL, READY_LINE


@contextmanager
def fake_server(behaviour: Callable[[socket.socket], None]) -> Iterator[int]:
    """A one-connection server on a loopback port that does ``behaviour`` with the connection."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            behaviour(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(5)


def plus_one(conn: socket.socket) -> None:
    conn.sendall(bytes([(conn.recv(1)[0] + 1) % 256]))


def echo(conn: socket.socket) -> None:
    conn.sendall(conn.recv(1))


def close_at_once(conn: socket.socket) -> None:
    conn.recv(1)


def never_answer(conn: socket.socket) -> None:
    conn.recv(1)
    conn.recv(1)  # holds the connection open until the client gives up and closes


def config(port: int, **overrides: object) -> ClientConfig:
    return ClientConfig(server="127.0.0.1", port=port, **{"connect_deadline": 2.0, "reply_timeout": 2.0, **overrides})


def test_the_right_answer_is_ok():
    with fake_server(plus_one) as port:
        result = exchange(config(port))
    assert (result.outcome, result.exit_code, result.received) == ("ok", ExitCode.OK, 0x42)
    assert result.server == f"127.0.0.1:{port}"
    assert result.address and result.address.startswith("127.0.0.1:")
    assert result.connected_at <= result.answered_at


def test_0xff_wraps_to_0x00():
    with fake_server(plus_one) as port:
        result = exchange(config(port, char="0xff"))
    assert (result.outcome, result.received) == ("ok", 0x00)


def test_a_wrong_answer_is_exit_6_and_says_what_was_expected():
    with fake_server(echo) as port:
        result = exchange(config(port))
    assert (result.outcome, result.exit_code, result.received) == ("wrong-answer", ExitCode.WRONG_ANSWER, 0x41)
    assert result.error == "wrong answer: sent 0x41, got 0x41, expected 0x42"


def test_closed_without_an_answer_is_exit_5():
    with fake_server(close_at_once) as port:
        result = exchange(config(port))
    assert (result.outcome, result.exit_code, result.received) == ("closed", ExitCode.CLOSED, None)


def test_no_answer_in_time_is_exit_4():
    with fake_server(never_answer) as port:
        result = exchange(config(port, reply_timeout=0.3))
    assert (result.outcome, result.exit_code) == ("timeout", ExitCode.TIMEOUT)
    assert 0.3 <= result.answer_seconds < 2


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_nothing_listening_is_retried_until_the_deadline_then_exit_3():
    result = exchange(config(_unused_port(), connect_deadline=0.5))
    assert (result.outcome, result.exit_code) == ("no-connection", ExitCode.NO_CONNECTION)
    assert result.attempts > 1
    assert "refused" in result.error


def test_a_name_not_found_is_retried_then_exit_3(monkeypatch):
    # "Not in DNS yet" without asking any resolver: the lab's names exist only on its Docker networks.
    def not_found(*_args: object, **_kwargs: object) -> socket.socket:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "create_connection", not_found)
    result = exchange(ClientConfig(server="server", connect_deadline=0.3))
    assert result.exit_code == ExitCode.NO_CONNECTION and result.attempts > 1
    assert result.error.endswith("Name or service not known")


def test_a_server_that_starts_late_is_reached_by_the_retry():
    # The port is bound but not listening (refused); the client's first back-off starts it listening.
    late = socket.socket()
    late.bind(("127.0.0.1", 0))
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        late.listen()

    with late:
        sock, attempts = connect("127.0.0.1", late.getsockname()[1], deadline=time.monotonic() + 10, sleep=sleep)
        sock.close()
    assert attempts == 2 and naps == [0.05]


def test_backoff_doubles_up_to_a_cap_and_stops_at_the_deadline():
    now = [0.0]
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        now[0] += seconds

    with pytest.raises(CouldNotConnect, match=r"after \d+ attempt"):
        connect("127.0.0.1", _unused_port(), deadline=5.0, sleep=sleep, clock=lambda: now[0])
    assert naps[:6] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0]
    assert max(naps) == 1.0 and sum(naps) == pytest.approx(5.0)


def test_main_prints_the_classic_line(capsys):
    with fake_server(plus_one) as port:
        code = main(["--server", "127.0.0.1", "--port", str(port)])
    out = capsys.readouterr().out
    assert code == ExitCode.OK
    assert out.startswith("char from server = B  [host ")


def test_main_json_is_one_machine_readable_line(capsys):
    with fake_server(plus_one) as port:
        code = main(["--server", "127.0.0.1", "--port", str(port), "--json"])
    lines = capsys.readouterr().out.splitlines()
    assert code == ExitCode.OK and len(lines) == 1
    result = json.loads(lines[0])
    assert {k: result[k] for k in ("sent", "received", "outcome", "exit_code")} == {
        "sent": "A",
        "received": "B",
        "outcome": "ok",
        "exit_code": 0,
    }
    for key in ("host", "address", "server", "connect_seconds", "answer_seconds", "connected_at", "answered_at"):
        assert result[key] is not None


def test_main_failure_is_one_stderr_line_and_its_exit_code(capsys):
    with fake_server(echo) as port:
        code = main(["--server", "127.0.0.1", "--port", str(port)])
    captured = capsys.readouterr()
    assert code == ExitCode.WRONG_ANSWER
    assert captured.out.startswith("char from server = A")
    assert captured.err.strip() == "socklab client: wrong answer: sent 0x41, got 0x41, expected 0x42"


def test_main_repeats_exchanges_and_reports_each(capsys):
    listener = socket.create_server(("127.0.0.1", 0))
    answers = [b"B", b"A", b"B"]  # the second exchange gets a wrong answer

    def serve() -> None:
        for answer in answers:
            conn, _ = listener.accept()
            with conn:
                conn.recv(1)
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with listener:
        code = main(["--server", "127.0.0.1", "--port", str(listener.getsockname()[1]), "--repeat", "3", "--json"])
    thread.join(5)
    outcomes = [json.loads(line)["outcome"] for line in capsys.readouterr().out.splitlines()]
    assert outcomes == ["ok", "wrong-answer", "ok"]
    assert code == ExitCode.WRONG_ANSWER


def test_main_bad_configuration_is_exit_2(capsys, monkeypatch):
    monkeypatch.setenv("SOCKLAB_CHAR", "AB")
    assert main([]) == ExitCode.CONFIG
    assert capsys.readouterr().err == (
        "socklab client: bad configuration: char 'AB' is not one character or a byte written 0x00-0xff\n"
    )


def test_wait_for_go_holds_the_client_until_sigusr1():
    # A real client process: it must say 'ready', not connect before the signal, then answer normally.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "client", "--server", "127.0.0.1", "--port", str(port), "--wait-for-go"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with listener:
        assert proc.stderr.readline().strip() == READY_LINE
        listener.settimeout(0.3)
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody connects before the signal
        proc.send_signal(signal.Signals[GO_SIGNAL])
        listener.settimeout(10)
        conn, _ = listener.accept()
        with conn:
            plus_one(conn)
    assert proc.wait(timeout=10) == ExitCode.OK
    assert proc.stdout.read().startswith("char from server = B")
