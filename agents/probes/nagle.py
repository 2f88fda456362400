"""Write, write, read: a request sent in two small writes, answered with one small reply, many times over.

``serve`` accepts connections one after another, until it is stopped; on each it reads requests of
``--size`` bytes and answers each with one byte, until EOF; then it reports how many it answered, its own
socket's delayed-ACK timeout (``tcpi_ato`` of TCP_INFO) and how many ACKs its namespace delayed meanwhile
(TcpExt DelayedACKs).

``send`` makes ``--exchanges`` exchanges per mode on a fresh connection each: ``nagle`` (the default
socket) and ``nodelay`` (TCP_NODELAY set); each exchange is two writes of half the request and a read of
the reply, timed. With Nagle the second write waits for the ACK of the first, which the server's kernel
delays, because the server has nothing to say until the whole request is in.
"""

from __future__ import annotations

import argparse
import socket
import time
from typing import Any

from probes.events import emit
from probes.kernel import counters
from probes.sockets import listener as listener_on
from probes.tcpinfo import tcp_info

MODES = ("nagle", "nodelay")


def delayed_acks() -> int:
    return int(counters()["TcpExt"]["DelayedACKs"])


def read_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return data
        data += chunk
    return data


def serve(port: int, size: int) -> None:
    listener = listener_on(port, 5)
    emit("listening", port=port)
    while True:
        conn, address = listener.accept()
        before, answered, ato = delayed_acks(), 0, 0
        with conn:
            while len(read_exactly(conn, size)) == size:
                conn.sendall(b"+")
                answered += 1
                ato = max(ato, tcp_info(conn).get("ato", 0))
        peer = f"{address[0]}:{address[1]}"
        emit("served", peer=peer, answered=answered, ato_us=ato, delayed_acks=delayed_acks() - before)


def exchanges(address: tuple[str, int], mode: str, count: int, size: int) -> dict[str, Any]:
    sock = socket.create_connection(address)
    local = "{}:{}".format(*sock.getsockname())
    with sock:
        if mode == "nodelay":
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        half = size // 2
        first, second = b"h" * half, b"b" * (size - half)
        seconds = []
        for _ in range(count):
            start = time.perf_counter()
            sock.sendall(first)
            sock.sendall(second)
            if sock.recv(1) != b"+":
                raise ConnectionError("the server did not answer")
            seconds.append(time.perf_counter() - start)
        info = tcp_info(sock)
    return {"mode": mode, "local": local, "seconds": [round(s, 6) for s in seconds], "rtt_us": info.get("rtt")}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m probes.nagle")
    parser.add_argument("role", choices=("serve", "send"))
    parser.add_argument("--server", default="server")
    parser.add_argument("--port", type=int, default=9736)
    parser.add_argument("--size", type=int, default=40, help="bytes per request, sent in two writes")
    parser.add_argument("--exchanges", type=int, default=40)
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if args.role == "serve":
        serve(args.port, args.size)
        return
    address = (socket.gethostbyname(args.server), args.port)
    for mode in modes:
        emit("mode_done", **exchanges(address, mode, args.exchanges, args.size))
    emit("done")


if __name__ == "__main__":
    main()
