"""A client that waits for its answer while its server goes away, and notes what it sees, and when.

For each ``--target NAME=HOST`` it opens two connections, one with SO_KEEPALIVE (``--idle``, ``--interval``,
``--count``: TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT) and one without, sends 'A' on each and waits for the
answer. It prints ``ready`` and connects only on SIGUSR1 (so a capture can start first); SIGUSR2 (or
``--watch`` seconds) ends the watch, and after its report a second SIGUSR2 (or ``--linger``) ends it.
What can happen to a waiting connection, each with its time:

- ``answer``: the byte came; then ``eof`` when the server closes after it;
- ``eof``: the server's FIN without an answer; the client then writes once, as a client with more to say
  would, and notes ``reset`` when the peer's RST closes the socket, and what a second write gets (EPIPE);
- ``reset`` (ECONNRESET), ``timeout`` (ETIMEDOUT: the keepalive probes went unanswered), any other errno;
- nothing at all: silence, until the watch ends.

Each connection's own TCP_INFO is sampled all along (state, keepalive probes out, backoff); the namespace's
TcpExt counters (keepalives sent, aborts on timeout) are read before and after.
"""

from __future__ import annotations

import argparse
import errno
import selectors
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from probes.events import emit
from probes.kernel import counters
from probes.tcpinfo import tcp_info

COUNTERS = ("TCPKeepAlive", "TCPAbortOnTimeout", "TCPAbortOnClose", "TCPAbortOnData")
TICK = 0.05
ERRORS = {errno.ECONNRESET: "reset", errno.ETIMEDOUT: "timeout", errno.EPIPE: "epipe"}


def error_name(exc: OSError) -> str:
    code = exc.errno or 0
    return ERRORS.get(code, errno.errorcode.get(code, str(code)).lower())


@dataclass
class Watched:
    target: str
    keepalive: bool
    sock: socket.socket
    local: str
    seen: list[dict[str, Any]] = field(default_factory=list)  # what happened, in order, each with its time
    max_probes: int = 0
    max_backoff: int = 0
    state: str = "?"
    awaiting_reset: bool = False
    done: bool = False

    def note(self, what: str, **details: Any) -> None:
        self.seen.append({"what": what, "at": time.time(), **details})
        emit("seen", target=self.target, keepalive=self.keepalive, what=what, **details)

    def record(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "keepalive": self.keepalive,
            "local": self.local,
            "seen": self.seen,
            "max_probes": self.max_probes,
            "max_backoff": self.max_backoff,
            "state": self.state,
        }


def tcp_ext() -> dict[str, int]:
    ext = counters()["TcpExt"]
    return {name: int(ext.get(name, 0)) for name in COUNTERS}


def connect(target: str, host: str, port: int, keepalive: tuple[int, int, int] | None) -> Watched:
    sock = socket.create_connection((socket.gethostbyname(host), port), timeout=10)
    if keepalive is not None:
        idle, interval, count = keepalive
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, interval)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, count)
    sock.sendall(b"A")
    sock.setblocking(False)
    return Watched(target, keepalive is not None, sock, "{}:{}".format(*sock.getsockname()))


def on_readable(watched: Watched, selector: selectors.BaseSelector) -> None:
    try:
        data = watched.sock.recv(1)
    except OSError as exc:
        watched.note(error_name(exc))
        _finish(watched, selector)
        return
    if data:
        watched.note("answer", byte=chr(data[0]))
        return
    answered = any(s["what"] == "answer" for s in watched.seen)
    watched.note("eof")
    selector.unregister(watched.sock)
    if answered:
        watched.done = True
        return
    # The server closed without answering. A client with more to say writes again: who answers that?
    try:
        watched.sock.send(b"C")
    except OSError as exc:
        watched.note("write_after_eof", result=error_name(exc))
        watched.done = True
        return
    watched.note("write_after_eof", result="ok")
    watched.awaiting_reset = True


def _finish(watched: Watched, selector: selectors.BaseSelector) -> None:
    selector.unregister(watched.sock)
    watched.done = True


def sample(watched: Watched) -> None:
    info = tcp_info(watched.sock)
    watched.state = str(info.get("state", "?"))
    watched.max_probes = max(watched.max_probes, int(info.get("probes", 0)))
    watched.max_backoff = max(watched.max_backoff, int(info.get("backoff", 0)))
    if watched.awaiting_reset and watched.state == "CLOSE":
        watched.awaiting_reset, watched.done = False, True
        watched.note("reset")  # the peer's RST: the socket is closed under us
        try:
            watched.sock.send(b"D")
            watched.note("second_write", result="ok")
        except OSError as exc:
            watched.note("second_write", result=error_name(exc))


def watch(connections: list[Watched], until: float, stop: threading.Event) -> None:
    selector = selectors.DefaultSelector()
    for watched in connections:
        selector.register(watched.sock, selectors.EVENT_READ, watched)
    while time.monotonic() < until and not stop.is_set() and not all(w.done for w in connections):
        for key, _mask in selector.select(TICK):
            on_readable(key.data, selector)
        for watched in connections:
            sample(watched)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m probes.crash")
    parser.add_argument("--target", action="append", default=[], metavar="NAME=HOST", help="repeatable")
    parser.add_argument("--port", type=int, default=9736)
    parser.add_argument("--idle", type=int, default=1, help="TCP_KEEPIDLE, seconds")
    parser.add_argument("--interval", type=int, default=1, help="TCP_KEEPINTVL, seconds")
    parser.add_argument("--count", type=int, default=3, help="TCP_KEEPCNT")
    parser.add_argument("--watch", type=float, default=60.0, help="at most this long after connecting")
    parser.add_argument("--linger", type=float, default=30.0, help="at most this long after reporting")
    args = parser.parse_args()
    go, stop = threading.Event(), threading.Event()
    signal.signal(signal.SIGUSR1, lambda _s, _f: go.set())
    signal.signal(signal.SIGUSR2, lambda _s, _f: stop.set())
    emit("ready")
    while not go.wait(0.1):
        pass
    before = tcp_ext()
    keepalive = (args.idle, args.interval, args.count)
    connections = [
        connect(name, host, args.port, setting)
        for name, _, host in (t.partition("=") for t in args.target)
        for setting in (None, keepalive)
    ]
    emit("sent", connections=len(connections))
    watch(connections, time.monotonic() + args.watch, stop)
    emit(
        "done", connections=[w.record() for w in connections], counters={k: v - before[k] for k, v in tcp_ext().items()}
    )
    for watched in connections:
        watched.sock.close()
    stop.clear()
    stop.wait(args.linger)  # the namespace stays while a capture beside it finishes (SIGUSR2 ends it sooner)


if __name__ == "__main__":
    main()
