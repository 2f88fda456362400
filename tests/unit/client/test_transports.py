"""The client over unix and udp, and its retry of a cut exchange, against small fake servers."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from client.config import ClientConfig
from client.errors import ExitCode
from client.exchange import exchange
from client.main import main
from wire import ClientResult


def plus_one(conn: socket.socket) -> None:
    conn.sendall(bytes([(conn.recv(1)[0] + 1) % 256]))


def close_without_answer(conn: socket.socket) -> None:
    conn.recv(1)


def reset(conn: socket.socket) -> None:
    conn.recv(1)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close() sends RST


@contextmanager
def stream_server(listener: socket.socket, behaviours: list[Callable[[socket.socket], None]]) -> Iterator[None]:
    """Serve one connection per behaviour, in order, on ``listener``."""

    def serve() -> None:
        for behaviour in behaviours:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                behaviour(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the thread (close() would not)
        listener.close()
        thread.join(5)


def tcp_listener() -> tuple[socket.socket, int]:
    listener = socket.create_server(("127.0.0.1", 0))
    return listener, listener.getsockname()[1]


def tcp_config(port: int, **overrides: object) -> ClientConfig:
    return ClientConfig(server="127.0.0.1", port=port, **{"connect_deadline": 3.0, "reply_timeout": 2.0, **overrides})


def test_over_unix_the_answer_comes_through_the_socket_file(tmp_path: Path, capsys):
    path = str(tmp_path / "s.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen()
    with stream_server(listener, [plus_one, plus_one]):
        result = exchange(ClientConfig(transport="unix", socket_path=path, connect_deadline=2, reply_timeout=2))
        assert main(["--transport", "unix", "--socket-path", path]) == ExitCode.OK
    assert (result.outcome, result.received, result.transport, result.server) == ("ok", 0x42, "unix", path)
    assert capsys.readouterr().out.startswith("char from server = B")


def test_over_unix_a_missing_socket_is_retried_until_the_deadline(tmp_path: Path):
    result = exchange(ClientConfig(transport="unix", socket_path=str(tmp_path / "none.sock"), connect_deadline=0.3))
    assert (result.outcome, result.exit_code) == ("no-connection", ExitCode.NO_CONNECTION)
    assert result.attempts > 1 and "No such file" in (result.error or "")


@contextmanager
def udp_server(answer: Callable[[int, int], bytes | None]) -> Iterator[int]:
    """A UDP socket on loopback answering the n-th datagram (0-based) with ``answer(n, byte)``, or not at all."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        count = 0
        while True:
            data, sender = sock.recvfrom(16)
            if stop.is_set():
                return
            reply = answer(count, data[0])
            count += 1
            if reply is not None:
                sock.sendto(reply, sender)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        sock.sendto(b"", sock.getsockname())  # wakes the recvfrom() of the thread
        thread.join(5)
        sock.close()


def test_over_udp_a_datagram_is_answered_by_a_datagram():
    with udp_server(lambda _n, byte: bytes([byte + 1])) as port:
        result = exchange(tcp_config(port, transport="udp"))
    assert (result.outcome, result.received, result.transport) == ("ok", 0x42, "udp")
    assert result.server == f"127.0.0.1:{port}"


def test_over_udp_a_lost_datagram_is_a_timeout_unless_resending_is_asked():
    first_lost: Callable[[int, int], bytes | None] = lambda n, byte: None if n == 0 else bytes([byte + 1])  # noqa: E731
    with udp_server(first_lost) as port:
        lost = exchange(tcp_config(port, transport="udp", reply_timeout=0.3))
    with udp_server(first_lost) as port:
        resent = exchange(tcp_config(port, transport="udp", reply_timeout=3, udp_resend=0.2))
    assert (lost.outcome, lost.exit_code) == ("timeout", ExitCode.TIMEOUT)
    assert (resent.outcome, resent.received) == ("ok", 0x42)


def test_over_udp_nothing_listening_is_retried_then_no_connection():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = exchange(tcp_config(port, transport="udp", connect_deadline=0.4))
    assert (result.outcome, result.exit_code) == ("no-connection", ExitCode.NO_CONNECTION)
    assert result.attempts > 1


def test_a_cut_exchange_fails_once_without_retry_cut():
    listener, port = tcp_listener()
    with stream_server(listener, [close_without_answer]):
        result = exchange(tcp_config(port))
    assert (result.outcome, result.exit_code, result.retried_cuts) == ("closed", ExitCode.CLOSED, 0)


def test_with_retry_cut_closed_and_reset_exchanges_are_retried_and_counted():
    listener, port = tcp_listener()
    with stream_server(listener, [close_without_answer, reset, plus_one]):
        result = exchange(tcp_config(port, retry_cut=True))
    assert (result.outcome, result.received, result.retried_cuts) == ("ok", 0x42, 2)
    assert ClientResult.from_json(result.to_json()).retried_cuts == 2


def test_retry_cut_gives_up_at_the_connect_deadline():
    listener, port = tcp_listener()
    with stream_server(listener, [close_without_answer] * 1000):
        result = exchange(tcp_config(port, retry_cut=True, connect_deadline=0.5))
    assert (result.outcome, result.exit_code) == ("closed", ExitCode.CLOSED)
    assert result.retried_cuts >= 1
