"""The server's and the client's knobs: the one contract of ``SOCKLAB_*`` variables, read and written.

The images read these classes from their environment (``python -m server`` through ``knobs.load``, with
the same flags); the host writes every container's environment from them, validated by the same rules:
``ServerConfig(delay=0.5).to_env() == {"SOCKLAB_DELAY": "0.5"}``, and ``ServerConfig(delay=nan)`` raises
before any container starts. The C peers (agents/peers/*.c) apply the same rule to the same variables.
"""

from __future__ import annotations

from dataclasses import dataclass

from .catalog import DEFAULT_PORT, DEFAULT_SOCKET_PATH, LOG_MODES, MODELS, TRANSPORTS, UnsupportedPair, check_pair
from .knobs import NON_NEGATIVE, POSITIVE, SECONDS, Knobs, Rule, one_of, option, whole

__all__ = ["CHAR", "DELAY", "ClientConfig", "ServerConfig", "parse_char"]


def parse_char(text: str) -> int:
    """The byte a user means: 'A', or '0x41' for any byte value (0xff too); ValueError otherwise."""
    if len(text) == 1:
        if ord(text) > 0xFF:
            raise ValueError(f"{text!r} is not one byte; give 0xNN for a byte value")
        return ord(text)
    if text.lower().startswith("0x") and len(text) in (3, 4):
        try:
            return int(text, 16)
        except ValueError:
            pass
    raise ValueError(f"{text!r} is not one character or a byte written 0x00-0xff")


def _char_problem(text: str) -> str:
    try:
        parse_char(text)
    except ValueError as exc:
        return str(exc)
    return ""


DELAY = SECONDS  # the server's wait before answering: finite, 0..86400 (NaN, inf and negatives fail)
CHAR = Rule(
    "one character, or a byte written 0x00-0xff",
    lambda text: not _char_problem(text),
    lambda name, text: f"{name} {_char_problem(text)}",
)
NAMED = Rule("a host name or address", bool)


@dataclass(frozen=True)
class ServerConfig(Knobs):
    transport: str = option(
        "tcp", f"what to listen on: {', '.join(TRANSPORTS)}", metavar="TRANSPORT", rule=one_of(TRANSPORTS)
    )
    bind: str = option(
        "0.0.0.0", "address to listen on for tcp and udp (0.0.0.0 every IPv4 interface, :: IPv6 too)", metavar="ADDRESS"
    )
    port: int = option(DEFAULT_PORT, "port to listen on for tcp and udp (0 picks a free one)", rule=whole(0, 65535))
    socket_path: str = option(DEFAULT_SOCKET_PATH, "the Unix socket's path, for transport unix", metavar="PATH")
    backlog: int = option(
        5, "listen() backlog: completed connections the kernel queues before accept()", rule=NON_NEGATIVE
    )
    delay: float = option(5.0, "seconds to wait between reading the byte and answering", metavar="SECONDS", rule=DELAY)
    idle_timeout: float = option(
        30.0, "close a client that sends nothing for this long", metavar="SECONDS", rule=POSITIVE
    )
    grace: float = option(
        10.0, "on SIGTERM, how long accepted connections may take to finish", metavar="SECONDS", rule=SECONDS
    )
    model: str = option(
        "fork", f"concurrency model: {', '.join(MODELS)} (udp: async only)", metavar="MODEL", rule=one_of(MODELS)
    )
    resolve_names: bool = option(
        True, "name each peer in the log by reverse DNS (only containers on this host's own networks)"
    )
    log_probes: bool = option(
        False, "log loopback connections that close without sending (the image's health check makes them)"
    )
    log: str = option(
        "connections",
        f"what to log: {', '.join(LOG_MODES)} (summary: one line a second with accepted, served, in flight, errors)",
        metavar="MODE",
        rule=one_of(LOG_MODES),
    )
    workers: int = option(1, "processes sharing the port with SO_REUSEPORT (model epoll only)", rule=whole(1, 64))
    wait_for_tracer: float = option(
        0.0,
        "before socket(), wait up to this long for a tracer (strace) to attach, so that it sees socket, bind "
        "and listen (0: do not wait)",
        metavar="SECONDS",
        rule=SECONDS,
    )

    def check(self) -> None:
        if self.workers > 1 and self.model != "epoll":
            raise ValueError(f"workers {self.workers} needs model epoll (model {self.model} is one process)")
        if self.workers > 1 and self.transport != "tcp":
            raise ValueError(f"workers {self.workers} share a TCP port (SO_REUSEPORT); not {self.transport}")
        try:
            check_pair(self.model, self.transport)
        except UnsupportedPair as exc:
            raise ValueError(str(exc)) from exc
        if self.transport == "unix" and not self.socket_path:
            raise ValueError("socket_path must name a file for transport unix")


@dataclass(frozen=True)
class ClientConfig(Knobs):
    transport: str = option(
        "tcp", f"how to reach the server: {', '.join(TRANSPORTS)}", metavar="TRANSPORT", rule=one_of(TRANSPORTS)
    )
    server: str = option("server", "server host name or address (tcp, udp)", metavar="HOST", rule=NAMED)
    port: int = option(DEFAULT_PORT, "server port (tcp, udp)", rule=whole(1, 65535))
    socket_path: str = option(DEFAULT_SOCKET_PATH, "the server's Unix socket (unix)", metavar="PATH")
    char: str = option("A", "the character to send: one character, or a byte as 0xNN", metavar="CHAR", rule=CHAR)
    connect_deadline: float = option(
        30.0,
        "keep retrying 'refused', 'name not found' (and cut exchanges, see retry-cut) this long",
        metavar="SECONDS",
        rule=POSITIVE,
    )
    reply_timeout: float = option(
        60.0, "give up waiting for the answer after this long", metavar="SECONDS", rule=POSITIVE
    )
    json: bool = option(False, "print one JSON result line instead of the classic line")
    repeat: int = option(1, "how many exchanges, one after another, each with its own connect retry", rule=whole(1))
    interval: float = option(0.0, "pause between repeated exchanges", metavar="SECONDS", rule=SECONDS)
    retry_cut: bool = option(
        False,
        "retry an exchange cut before its answer (closed or reset) until the connect deadline; safe, since "
        "asking again is harmless; the result counts the retries",
    )
    udp_resend: float = option(
        0.0,
        "udp: send the datagram again after this long without an answer (0: never)",
        metavar="SECONDS",
        rule=SECONDS,
    )
    wait_for_go: bool = option(
        False, "print 'ready' on stderr, then wait for SIGUSR1 before connecting: a start barrier for many hosts"
    )

    def check(self) -> None:
        if self.transport == "unix" and not self.socket_path:
            raise ValueError("socket_path must name the server's socket for transport unix")

    @property
    def byte(self) -> int:
        return parse_char(self.char)
