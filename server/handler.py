"""Serving one accepted connection, and the outcomes every model logs the same way.

OSError from the socket is translated here, in one place, into the few things that can happen to a
connection; each is an ``Outcome`` that logs itself, so the blocking handler and the event loop report
through the same functions. Nothing here raises into the accept loop: a bad client cannot stop the server.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from .config import ServerConfig
from .log import Log, Peer
from .names import PeerNames
from .protocol import REQUEST_SIZE, reply_for


@dataclass(frozen=True)
class Connection:
    """An accepted connection as the models hand it around."""

    sock: socket.socket
    peer: tuple[str, int]  # (ip, port), or ("unix", the connection's number)
    probe: bool  # the image's health check: logged only with log_probes
    accepted: float  # time.monotonic() at accept


class Outcome:
    """What became of one request; ``log_to`` writes its line."""

    quiet_for_probes = False  # a health probe's normal outcome stays out of the log

    def log_to(self, log: Log, peer: Peer, config: ServerConfig) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Served(Outcome):
    request: int
    reply: int
    seconds: float

    def log_to(self, log: Log, peer: Peer, config: ServerConfig) -> None:
        log.served(peer, self.request, self.reply, self.seconds)


class ConnectionLost(Outcome, Exception):
    """The peer went away (reset, broken pipe) before it had its answer."""

    def log_to(self, log: Log, peer: Peer, config: ServerConfig) -> None:
        log.reset(peer, str(self))


class PeerIdle(Outcome, Exception):
    """The peer sent nothing within the idle timeout."""

    def log_to(self, log: Log, peer: Peer, config: ServerConfig) -> None:
        log.idle(peer, config.idle_timeout)


class PeerClosedEmpty(Outcome, Exception):
    """The peer closed its side without sending a byte (what the health check does)."""

    quiet_for_probes = True

    def log_to(self, log: Log, peer: Peer, config: ServerConfig) -> None:
        log.empty(peer)


def report(
    outcome: Outcome, peer: tuple[str, int], probe: bool, config: ServerConfig, log: Log, names: PeerNames
) -> None:
    """Log ``outcome`` for ``peer``; the name is looked up now, after the answer went out, so DNS never delays one."""
    if probe and outcome.quiet_for_probes and not config.log_probes:
        return
    outcome.log_to(log, Peer(peer[0], peer[1], names.name_of(peer[0], peer[1])), config)


def _receive_request(sock: socket.socket, idle_timeout: float) -> bytes:
    sock.settimeout(idle_timeout)
    try:
        data = sock.recv(REQUEST_SIZE)
    except TimeoutError as exc:
        raise PeerIdle() from exc
    except OSError as exc:
        raise ConnectionLost(exc.strerror or str(exc)) from exc
    if not data:
        raise PeerClosedEmpty()
    return data


def _send_reply(sock: socket.socket, reply: bytes) -> None:
    try:
        sock.sendall(reply)
    except OSError as exc:
        raise ConnectionLost(f"{exc.strerror or exc} while answering") from exc


class StreamHandler:
    """Read one byte, wait ``delay``, answer it plus one, close; log the outcome.

    A server's ``handler`` class attribute: an experiment swaps it with a subclass.
    """

    def __init__(self, config: ServerConfig, log: Log, names: PeerNames) -> None:
        self.config, self.log, self.names = config, log, names

    def __call__(self, conn: Connection) -> None:
        outcome: Outcome
        try:
            with conn.sock:
                try:
                    request = _receive_request(conn.sock, self.config.idle_timeout)
                    time.sleep(self.config.delay)
                    reply = reply_for(request)
                    _send_reply(conn.sock, reply)
                    outcome = Served(request[0], reply[0], time.monotonic() - conn.accepted)
                except (PeerIdle, PeerClosedEmpty, ConnectionLost) as exc:
                    outcome = exc
        except OSError as exc:  # close() itself failing is not worth a traceback
            self.log.error(f"closing connection from {conn.peer[0]}: {exc}")
            return
        report(outcome, conn.peer, conn.probe, self.config, self.log, self.names)
