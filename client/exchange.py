"""One exchange with the server: connect (retrying while it is not there yet), send, read the answer.

Over tcp and unix a connection carries the byte and the answer. Over udp the byte is one datagram to the
server and the answer one datagram back; a lost datagram is not sent again unless ``udp_resend`` asks,
so by default a loss shows as a timeout. With ``retry_cut``, an exchange cut before its answer (the
server closed or reset the connection) starts again from the connect, until the connect deadline: the
protocol is idempotent, so asking twice is harmless, and the result counts the retries.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from wire import ClientResult

from .config import ClientConfig
from .errors import ClientError, ClosedWithoutAnswer, CouldNotConnect, NoAnswerInTime, WrongAnswer
from .protocol import RemoteProtocolError, check_answer, request

FIRST_BACKOFF = 0.05
MAX_BACKOFF = 1.0

Sleep = Callable[[float], None]
Clock = Callable[[], float]


def _endpoint(sockaddr: object) -> str | None:
    if isinstance(sockaddr, tuple):
        host, port = sockaddr[0], sockaddr[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(sockaddr) or None  # a Unix socket's path; an unnamed client socket has none


def _with_retries(
    open_once: Callable[[float], socket.socket],
    what: str,
    deadline: float,
    *,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
) -> tuple[socket.socket, int]:
    """``open_once(timeout)`` until it works or ``deadline`` (a ``clock`` time) passes, with backoff.

    Every failure before the deadline is retried, since in a lab they all mean "not there yet": the name
    is not in DNS yet, the port is not listening yet, the socket file does not exist yet.
    """
    backoff, attempts = FIRST_BACKOFF, 0
    while True:
        attempts += 1
        remaining = deadline - clock()
        try:
            return open_once(max(remaining, 0.001)), attempts
        except OSError as exc:
            remaining = deadline - clock()
            if remaining <= 0:
                reason = exc.strerror or str(exc) or type(exc).__name__
                raise CouldNotConnect(
                    f"could not connect to {what} after {attempts} attempt(s): {reason}", attempts
                ) from exc
            sleep(min(backoff, remaining))
            backoff = min(backoff * 2, MAX_BACKOFF)


def connect(
    host: str, port: int, deadline: float, *, sleep: Sleep = time.sleep, clock: Clock = time.monotonic
) -> tuple[socket.socket, int]:
    """A TCP connection before ``deadline``, retrying with backoff; the socket and the attempts it took."""
    return _with_retries(
        lambda timeout: socket.create_connection((host, port), timeout=timeout),
        f"{host}:{port}",
        deadline,
        sleep=sleep,
        clock=clock,
    )


def connect_unix(
    path: str, deadline: float, *, sleep: Sleep = time.sleep, clock: Clock = time.monotonic
) -> tuple[socket.socket, int]:
    """A connection to the Unix socket at ``path`` before ``deadline``, retrying as ``connect``."""

    def open_once(timeout: float) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(path)
        except OSError:
            sock.close()
            raise
        return sock

    return _with_retries(open_once, path, deadline, sleep=sleep, clock=clock)


def _datagram_socket(host: str, port: int) -> socket.socket:
    """A UDP socket connected to the server: it then hears only the server, and ICMP errors as exceptions."""
    family, kind, proto, _name, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.connect(sockaddr)
    except OSError:
        sock.close()
        raise
    return sock


def _ask(sock: socket.socket, byte: int, reply_timeout: float) -> int:
    sock.settimeout(reply_timeout)
    try:
        sock.sendall(request(byte))
        data = sock.recv(1)
    except TimeoutError as exc:
        raise NoAnswerInTime(f"no answer within {reply_timeout:g} s") from exc
    except OSError as exc:
        raise ClosedWithoutAnswer(f"connection lost without an answer: {exc.strerror or exc}") from exc
    if not data:
        raise ClosedWithoutAnswer("the server closed the connection without answering")
    return data[0]


def _ask_datagram(
    sock: socket.socket, byte: int, config: ClientConfig, connect_deadline: float, tried: _Attempt
) -> int:
    """Send the byte as a datagram and wait for the answer; resend if asked, or while nothing listens yet."""
    reply_deadline = time.monotonic() + config.reply_timeout
    backoff = FIRST_BACKOFF
    sock.send(request(byte))
    while True:
        now = time.monotonic()
        wait = reply_deadline - now
        if config.udp_resend:
            wait = min(wait, config.udp_resend)
        sock.settimeout(max(wait, 0.001))
        try:
            data = sock.recv(1)
        except TimeoutError as exc:
            if time.monotonic() >= reply_deadline:
                raise NoAnswerInTime(f"no answer within {config.reply_timeout:g} s") from exc
            sock.send(request(byte))  # udp_resend: the datagram or its answer may have been lost
            continue
        except ConnectionRefusedError as exc:
            # ICMP port unreachable: nothing listens there yet, as a refused connect.
            if time.monotonic() >= connect_deadline:
                raise CouldNotConnect(
                    f"could not reach {config.server}:{config.port} after {tried.attempts} attempt(s): refused",
                    tried.attempts,
                ) from exc
            time.sleep(min(backoff, max(0.0, connect_deadline - time.monotonic())))
            backoff = min(backoff * 2, MAX_BACKOFF)
            tried.attempts += 1
            reply_deadline = time.monotonic() + config.reply_timeout
            sock.send(request(byte))
            continue
        if not data:
            raise ClosedWithoutAnswer("the server answered an empty datagram")
        return data[0]


@dataclass
class _Attempt:
    """What one try of the exchange got to, for the result."""

    attempts: int = 0
    address: str | None = None
    server: str | None = None
    connect_seconds: float | None = None
    answer_seconds: float | None = None
    connected_at: float | None = None
    answered_at: float | None = None
    received: int | None = None


def _try_once(config: ClientConfig, started: float, deadline: float, tried: _Attempt) -> None:
    """One connect-send-receive; fills ``tried`` as it goes, raises ClientError for what went wrong."""
    byte = config.byte
    sock: socket.socket
    if config.transport == "unix":
        sock, attempts = connect_unix(config.socket_path, deadline)
    elif config.transport == "udp":
        sock, attempts = _with_retries(
            lambda _timeout: _datagram_socket(config.server, config.port), f"{config.server}:{config.port}", deadline
        )
    else:
        sock, attempts = connect(config.server, config.port, deadline)
    tried.attempts += attempts
    with sock:
        connected = time.monotonic()
        tried.connected_at = time.time()
        tried.connect_seconds = connected - started
        tried.address, tried.server = _endpoint(sock.getsockname()), _endpoint(sock.getpeername())
        try:
            if config.transport == "udp":
                tried.received = _ask_datagram(sock, byte, config, deadline, tried)
            else:
                tried.received = _ask(sock, byte, config.reply_timeout)
        finally:
            tried.answer_seconds = time.monotonic() - connected
            tried.answered_at = time.time()
    try:
        check_answer(byte, tried.received)
    except RemoteProtocolError as exc:
        raise WrongAnswer(f"wrong answer: {exc}") from exc


def exchange(config: ClientConfig) -> ClientResult:
    """Run one exchange (retrying a cut one if asked); every failure is caught here and described."""
    started = time.monotonic()
    deadline = started + config.connect_deadline
    tried = _Attempt()
    retried_cuts = 0
    outcome, exit_code, error = "ok", 0, None
    while True:
        try:
            _try_once(config, started, deadline, tried)
        except ClosedWithoutAnswer as exc:
            if config.retry_cut and config.transport != "udp" and time.monotonic() < deadline:
                retried_cuts += 1
                tried = _Attempt(attempts=tried.attempts)
                time.sleep(min(FIRST_BACKOFF, max(0.0, deadline - time.monotonic())))
                continue
            outcome, exit_code, error = exc.outcome, int(exc.exit_code), str(exc)
        except ClientError as exc:
            outcome, exit_code, error = exc.outcome, int(exc.exit_code), str(exc)
            if isinstance(exc, CouldNotConnect):
                tried.attempts = max(tried.attempts, exc.attempts)
        break
    return ClientResult(
        host=socket.gethostname(),
        address=tried.address,
        server=tried.server,
        sent=config.byte,
        received=tried.received,
        connect_seconds=tried.connect_seconds,
        answer_seconds=tried.answer_seconds,
        connected_at=tried.connected_at,
        answered_at=tried.answered_at,
        attempts=tried.attempts,
        outcome=outcome,
        exit_code=exit_code,
        error=error,
        transport=config.transport,
        retried_cuts=retried_cuts,
    )
