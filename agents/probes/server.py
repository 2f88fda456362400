"""A TCP server with the lesson's knobs: the backlog, when accept() starts, serial or fork, SIGCHLD.

For each connection: read one byte, wait ``--delay``, answer the byte plus one, close. Every step is an
event line. ``--hold`` listens but does not call accept() until SIGUSR1 arrives (the backlog experiment).
``--model fork`` forks a child per connection; ``--sigchld`` says what the parent does about its
children: ``ignore`` (SIG_IGN, the original's trick: the kernel reaps them), ``default`` (nobody waits:
zombies), ``reap`` (a SIGCHLD handler that calls waitpid). ``--on-term`` says what SIGTERM does: ``exit`` at
once, or ``drain`` as the lab's servers do (stop accepting, let every child finish its answer, then exit).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import NoReturn

from probes.events import emit
from probes.sockets import listener as listener_on


def serve_one(conn: socket.socket, peer: str, delay: float) -> None:
    emit("read_called", peer=peer)
    data = conn.recv(1)  # blocking: the process sleeps in the kernel until the byte arrives
    emit("read_returned", peer=peer, byte=data[0] if data else None)
    if data:
        time.sleep(delay)
        conn.sendall(bytes([(data[0] + 1) % 256]))
        emit("answered", peer=peer)
    conn.close()


def reap(_signum: int, _frame: FrameType | None) -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class Draining(Exception):
    """SIGTERM with ``--on-term drain``: raised out of accept() in the parent."""


def drain(listener: socket.socket) -> NoReturn:
    """Stop accepting; wait until every child has answered and exited (their SIGCHLD left at default)."""
    listener.close()
    emit("draining")
    children = 0
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
        children += 1
    emit("drained", children=children)
    os._exit(0)


def on_term(mode: str) -> Callable[[int, FrameType | None], None]:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        if mode == "drain":
            raise Draining()
        os._exit(0)

    return handler


SIGCHLD: dict[str, signal.Handlers | Callable[[int, FrameType | None], None]] = {
    "ignore": signal.SIG_IGN,
    "default": signal.SIG_DFL,
    "reap": reap,
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m probes.server")
    parser.add_argument("--port", type=int, default=9736)
    parser.add_argument("--backlog", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--hold", action="store_true", help="do not accept() until SIGUSR1")
    parser.add_argument("--model", choices=("serial", "fork"), default="serial")
    parser.add_argument("--sigchld", choices=tuple(SIGCHLD), default="default")
    parser.add_argument("--on-term", choices=("exit", "drain"), default="exit")
    args = parser.parse_args()

    go = threading.Event()
    signal.signal(signal.SIGUSR1, lambda _s, _f: go.set())
    signal.signal(signal.SIGTERM, on_term(args.on_term))
    signal.signal(signal.SIGCHLD, SIGCHLD[args.sigchld])

    listener = listener_on(args.port, args.backlog)
    emit("listening", port=args.port, backlog=args.backlog, pid=os.getpid(), model=args.model, sigchld=args.sigchld)
    if args.hold:
        while not go.wait(0.1):
            pass
        emit("accept_resumed")
    try:
        accept_loop(listener, args.model, args.delay)
    except Draining:
        drain(listener)


def accept_loop(listener: socket.socket, model: str, delay: float) -> None:
    while True:
        emit("accept_called")
        try:
            conn, address = listener.accept()
        except InterruptedError:
            continue
        peer = f"{address[0]}:{address[1]}"
        emit("accepted", peer=peer)
        if model == "serial":
            try:
                serve_one(conn, peer, delay)
            except OSError as exc:
                emit("failed", peer=peer, error=str(exc))
            continue
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            listener.close()
            try:
                serve_one(conn, peer, delay)
            except OSError:
                os._exit(1)
            os._exit(0)
        conn.close()
        emit("forked", peer=peer, child=pid)


if __name__ == "__main__":
    main()
