"""Serving one accepted connection: the request handler, the same whatever the concurrency model.

OSError from the socket is translated here, in one place, into the few things that can happen to a
connection; the handler logs each of them and never raises them, so a bad client cannot stop the server.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from .config import ServerConfig
from .log import Log, Peer
from .names import PeerNames
from .protocol import REQUEST_SIZE, reply_for


class ConnectionLost(Exception):
    """The peer went away (reset, broken pipe) before it had its answer."""


class PeerIdle(Exception):
    """The peer sent nothing within the idle timeout."""


class PeerClosedEmpty(Exception):
    """The peer closed its side without sending a byte."""


def _receive_request(conn: socket.socket, idle_timeout: float) -> bytes:
    conn.settimeout(idle_timeout)
    try:
        data = conn.recv(REQUEST_SIZE)
    except TimeoutError as exc:
        raise PeerIdle() from exc
    except OSError as exc:
        raise ConnectionLost(exc.strerror or str(exc)) from exc
    if not data:
        raise PeerClosedEmpty()
    return data


def _send_reply(conn: socket.socket, reply: bytes) -> None:
    try:
        conn.sendall(reply)
    except OSError as exc:
        raise ConnectionLost(f"{exc.strerror or exc} while answering") from exc


def peer_of(address: tuple[str, int] | tuple[str, int, int, int], names: PeerNames) -> Peer:
    return Peer(address[0], address[1], names.name_of(address[0], address[1]))


def is_probe(address: str) -> bool:
    """A connection from the server's own loopback: the image's HEALTHCHECK."""
    return address.startswith("127.") or address == "::1"


def announced(config: ServerConfig, address: str) -> bool:
    """Whether a connection from ``address`` is logged: everything but quiet health probes."""
    return config.log_probes or not is_probe(address)


def handle(
    conn: socket.socket,
    address: tuple[str, int] | tuple[str, int, int, int],
    config: ServerConfig,
    log: Log,
    names: PeerNames,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Read one byte, wait ``config.delay``, answer it plus one, close; log what happened."""
    started = time.monotonic()
    try:
        with conn:
            try:
                request = _receive_request(conn, config.idle_timeout)
                sleep(config.delay)
                reply = reply_for(request)
                _send_reply(conn, reply)
                # The peer's name is looked up after it has its answer, so DNS never delays an answer.
                log.served(
                    peer_of(address, names),
                    request[0],
                    reply[0],
                    time.monotonic() - started,
                )
            except PeerIdle:
                log.idle(peer_of(address, names), config.idle_timeout)
            except PeerClosedEmpty:
                if announced(config, address[0]):
                    log.empty(peer_of(address, names))
            except ConnectionLost as exc:
                log.reset(peer_of(address, names), str(exc))
    except OSError as exc:  # close() itself failing is not worth a traceback
        log.error(f"closing connection from {address[0]}: {exc}")
