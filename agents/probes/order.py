"""Many small writes, large reads: does the receiver see the writes, or just the bytes in order?

``serve`` listens on TCP and UDP on one port. Over TCP it accepts one connection, lets the data pile up
for ``--settle`` seconds, then reads with recv(65536) until EOF, noting each read's size and checking the
bytes against the pattern the client wrote. Over UDP it receives datagrams with the same large buffer
until an END datagram. ``send`` makes ``--writes`` writes of ``--size`` bytes each way: byte i of the
stream is i % 251 (a prime, so no write lines up with the pattern); each datagram starts with its number.
"""

from __future__ import annotations

import argparse
import socket
import struct
import threading
import time

from probes.events import emit
from probes.sockets import listener as listener_on

END = b"END"
BIG = 65536


def pattern(start: int, size: int) -> bytes:
    return bytes((start + j) % 251 for j in range(size))


def receive_stream(listener: socket.socket, settle: float) -> None:
    conn, _ = listener.accept()
    time.sleep(settle)  # let the small writes pile up in the receive buffer: then read big
    reads, received = [], bytearray()
    while chunk := conn.recv(BIG):
        reads.append(len(chunk))
        received += chunk
    conn.close()
    emit(
        "tcp_done",
        reads=len(reads),
        sizes=reads[:50],
        largest=max(reads, default=0),
        bytes=len(received),
        in_order=bytes(received) == pattern(0, len(received)),
    )


def receive_datagrams(udp: socket.socket) -> None:
    sizes, numbers = [], []
    while (datagram := udp.recv(BIG)) != END:
        sizes.append(len(datagram))
        numbers.append(struct.unpack("!I", datagram[:4])[0])
    emit(
        "udp_done",
        datagrams=len(sizes),
        sizes=sorted(set(sizes)),
        in_order=numbers == sorted(numbers),
        missing=(max(numbers) + 1 - len(set(numbers))) if numbers else None,
    )


def serve(port: int, settle: float) -> None:
    listener = listener_on(port, 1)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", port))
    # Datagrams are read as they come (a thread), so none is lost to a full receive buffer meanwhile.
    datagrams = threading.Thread(target=receive_datagrams, args=(udp,))
    datagrams.start()
    emit("listening", port=port)
    receive_stream(listener, settle)
    datagrams.join()


def send(server: str, port: int, writes: int, size: int) -> None:
    address = socket.gethostbyname(server)
    with socket.create_connection((address, port)) as sock:
        for k in range(writes):
            sock.sendall(pattern(k * size, size))
    emit("tcp_sent", writes=writes, size=size)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for k in range(writes):
        udp.sendto(struct.pack("!I", k) + bytes(size - 4), (address, port))
        time.sleep(0.0005)  # a little pacing: this shows boundaries, not receive-buffer overflow
    for _ in range(3):  # the end marker may be lost too
        udp.sendto(END, (address, port))
    emit("udp_sent", datagrams=writes, size=size)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m probes.order")
    parser.add_argument("role", choices=("serve", "send"))
    parser.add_argument("--server", default="server")
    parser.add_argument("--port", type=int, default=9736)
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument("--size", type=int, default=10)
    parser.add_argument("--settle", type=float, default=0.3)
    args = parser.parse_args()
    if args.role == "serve":
        serve(args.port, args.settle)
    else:
        send(args.server, args.port, args.writes, max(args.size, 4))


if __name__ == "__main__":
    main()
