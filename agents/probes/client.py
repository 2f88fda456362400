"""K TCP clients from one host: each connects, sends one byte, reads the answer; every step an event line.

``--count K`` connections start together (one thread each, released by a barrier) or one after another
(``--sequential``, clients that come and go). ``--timeout 0`` keeps the sockets fully blocking, so a
waiting client sleeps in recv() itself (the blocking experiment samples its wait channel meanwhile).
The last line, ``done``, carries one record per client: when it connected, when it was answered, or how
it failed (refused, reset, timeout, closed).
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from typing import Any

from probes.events import emit

OUTCOMES = {ConnectionRefusedError: "refused", ConnectionResetError: "reset", TimeoutError: "timeout"}


def exchange(index: int, server: str, port: int, char: int, timeout: float) -> dict[str, Any]:
    record: dict[str, Any] = {"client": index, "started_at": time.time(), "connected_at": None, "answered_at": None}
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if timeout > 0:
        sock.settimeout(timeout)
    try:
        emit("connect_called", client=index)
        sock.connect((server, port))
        record["connected_at"] = time.time()
        host, port_ = sock.getsockname()[:2]
        record["address"] = f"{host}:{port_}"
        emit("connected", client=index, address=record["address"])
        sock.sendall(bytes([char]))
        emit("read_called", client=index)
        answer = sock.recv(1)
        record["answered_at"] = time.time()
        if not answer:
            record["outcome"] = "closed"
        else:
            record["outcome"], record["received"] = "ok", chr(answer[0])
            record["eof_after_answer"] = sock.recv(1) == b""  # the server closes after answering
        emit("read_returned", client=index, received=record.get("received"))
    except OSError as exc:
        record["failed_at"] = time.time()
        record["outcome"] = next((name for kind, name in OUTCOMES.items() if isinstance(exc, kind)), "error")
        record["error"] = f"{type(exc).__name__}: {exc}"
        emit("failed", client=index, outcome=record["outcome"], error=record["error"])
    finally:
        sock.close()
    return record


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m probes.client")
    parser.add_argument("--server", default="server")
    parser.add_argument("--port", type=int, default=9736)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--sequential", action="store_true", help="one client after another")
    parser.add_argument("--char", default="A")
    parser.add_argument("--timeout", type=float, default=30.0, help="per socket operation; 0: block forever")
    args = parser.parse_args()
    address = socket.gethostbyname(args.server)
    records: list[dict[str, Any]] = []
    if args.sequential:
        for index in range(args.count):
            records.append(exchange(index, address, args.port, ord(args.char), args.timeout))
    else:
        barrier = threading.Barrier(args.count)

        def one(index: int) -> None:
            barrier.wait()
            records.append(exchange(index, address, args.port, ord(args.char), args.timeout))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(args.count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    emit("done", server=f"{address}:{args.port}", clients=sorted(records, key=lambda r: r["client"]))


if __name__ == "__main__":
    main()
