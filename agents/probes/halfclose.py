"""The lesson's exchange with the sending half shut: 'A', then shutdown(SHUT_WR), then read the answer.

Two connections to the server at once. ``shutdown``: 'A', shutdown(SHUT_WR) (our FIN: "I have nothing more
to say"), then read the answer and the server's EOF. ``close``: 'A', then close(), as a client that
stops listening would. The states our sockets go through are read from our own TCP_INFO; after the
exchanges the probe waits (SIGUSR1, or ``--linger`` seconds) so the host can look at this namespace, then
reports how many RSTs its namespace sent (Tcp OutRsts: an answer that arrives for a closed socket is
answered with one).
"""

from __future__ import annotations

import argparse
import signal
import socket
import threading
import time
from typing import Any

from probes.events import emit
from probes.kernel import counters
from probes.tcpinfo import tcp_info


def resets_sent() -> int:
    return int(counters()["Tcp"]["OutRsts"])


def wait_for_state(sock: socket.socket, state: str, timeout: float) -> str:
    """Poll our own TCP_INFO until the socket is in ``state`` (or ``timeout``); the last state seen."""
    deadline = time.monotonic() + timeout
    seen = str(tcp_info(sock).get("state"))
    while seen != state and time.monotonic() < deadline:
        time.sleep(0.005)
        seen = str(tcp_info(sock).get("state"))
    return seen


def half_close(address: tuple[str, int], timeout: float) -> dict[str, Any]:
    sock = socket.create_connection(address, timeout=timeout)
    record: dict[str, Any] = {"mode": "shutdown", "local": "{}:{}".format(*sock.getsockname())}
    with sock:
        sock.sendall(b"A")
        sock.shutdown(socket.SHUT_WR)
        record["state_after_shutdown"] = wait_for_state(sock, "FIN_WAIT2", 2.0)
        emit("half_closed", mode="shutdown", state=record["state_after_shutdown"], local=record["local"])
        try:
            answer = sock.recv(1)
            record["answer"] = answer.decode(errors="replace") if answer else None
            record["answered_at"] = time.time()
            record["eof_after_answer"] = sock.recv(1) == b""
        except OSError as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
        record["state_at_end"] = tcp_info(sock).get("state")
    return record


def full_close(address: tuple[str, int], timeout: float) -> dict[str, Any]:
    sock = socket.create_connection(address, timeout=timeout)
    local = "{}:{}".format(*sock.getsockname())
    sock.sendall(b"A")
    sock.close()  # no way left to read the answer
    emit("half_closed", mode="close", local=local)
    return {"mode": "close", "local": local, "closed_at": time.time()}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m probes.halfclose")
    parser.add_argument("--server", default="server")
    parser.add_argument("--port", type=int, default=9736)
    parser.add_argument("--timeout", type=float, default=30.0, help="per socket operation")
    parser.add_argument("--linger", type=float, default=30.0, help="at most this long after the exchanges")
    args = parser.parse_args()
    finish = threading.Event()
    signal.signal(signal.SIGUSR1, lambda _s, _f: finish.set())
    address = (socket.gethostbyname(args.server), args.port)
    before = resets_sent()
    closing = full_close(address, args.timeout)
    shutting = half_close(address, args.timeout)
    emit("done", connections=[shutting, closing])
    finish.wait(args.linger)
    emit("counters", counters={"OutRsts": resets_sent() - before})


if __name__ == "__main__":
    main()
