"""One exchange with the server: connect (retrying while it is not there yet), send, read the answer."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from wire import ClientResult

from .config import ClientConfig
from .errors import ClientError, ClosedWithoutAnswer, CouldNotConnect, NoAnswerInTime, WrongAnswer
from .protocol import RemoteProtocolError, check_answer, request

FIRST_BACKOFF = 0.05
MAX_BACKOFF = 1.0


def _endpoint(sockaddr: tuple) -> str:
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def connect(
    host: str,
    port: int,
    deadline: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[socket.socket, int]:
    """Connect before ``deadline`` (a ``clock`` time), retrying with backoff; return the socket and attempts.

    Every failure before the deadline is retried, since in a lab they all mean "not there yet":
    the name is not in DNS yet, the port is not listening yet, the host is not routable yet.
    """
    backoff, attempts = FIRST_BACKOFF, 0
    while True:
        attempts += 1
        remaining = deadline - clock()
        try:
            return socket.create_connection((host, port), timeout=max(remaining, 0.001)), attempts
        except OSError as exc:
            remaining = deadline - clock()
            if remaining <= 0:
                reason = exc.strerror or str(exc) or type(exc).__name__
                raise CouldNotConnect(
                    f"could not connect to {host}:{port} after {attempts} attempt(s): {reason}", attempts
                ) from exc
            sleep(min(backoff, remaining))
            backoff = min(backoff * 2, MAX_BACKOFF)


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


def exchange(config: ClientConfig) -> ClientResult:
    """Run one exchange; every failure is caught here and described in the result."""
    byte = config.byte
    started = time.monotonic()
    sock = None
    address = server = None
    received = connect_seconds = answer_seconds = connected_at = answered_at = None
    attempts = 0
    outcome, exit_code, error = "ok", 0, None
    try:
        sock, attempts = connect(config.server, config.port, started + config.connect_deadline)
        connected = time.monotonic()
        connected_at = time.time()
        connect_seconds = connected - started
        address, server = _endpoint(sock.getsockname()), _endpoint(sock.getpeername())
        try:
            received = _ask(sock, byte, config.reply_timeout)
        finally:
            answer_seconds = time.monotonic() - connected
            answered_at = time.time()
        try:
            check_answer(byte, received)
        except RemoteProtocolError as exc:
            raise WrongAnswer(f"wrong answer: {exc}") from exc
    except ClientError as exc:
        outcome, exit_code, error = exc.outcome, int(exc.exit_code), str(exc)
        attempts = getattr(exc, "attempts", attempts)
    finally:
        if sock is not None:
            sock.close()
    return ClientResult(
        host=socket.gethostname(),
        address=address,
        server=server,
        sent=byte,
        received=received,
        connect_seconds=connect_seconds,
        answer_seconds=answer_seconds,
        connected_at=connected_at,
        answered_at=answered_at,
        attempts=attempts,
        outcome=outcome,
        exit_code=exit_code,
        error=error,
    )
