"""A reader that stops reading, and a writer that keeps writing: TCP's flow control, from both sockets.

``serve`` accepts one connection and reads nothing until SIGUSR1; meanwhile it samples its own socket
(bytes received and unread, the window it advertises). On SIGUSR1 it reads everything until EOF and checks
the bytes (byte i of the stream is i % 251). ``send`` writes without blocking until the kernel takes no
more; then it stops writing and samples its socket (the peer's window, unacknowledged bytes, window
probes sent and their backoff) until everything it wrote is acknowledged, and closes. Both report their
network namespace's TcpExt counters about windows and probes, before and after.
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
from probes.sockets import listener as listener_on
from probes.tcpinfo import queues, tcp_info

CHUNK = 65536
BLOCK = bytes(range(251)) * (CHUNK // 251 + 2)
COUNTERS = ("TCPWinProbe", "TCPToZeroWindowAdv", "TCPFromZeroWindowAdv", "TCPWantZeroWindowAdv", "TCPProbeWindow")


def pattern(start: int, size: int) -> bytes:
    """``size`` bytes of the stream from offset ``start`` (at most CHUNK at a time)."""
    offset = start % 251
    return BLOCK[offset : offset + size]


def tcp_ext() -> dict[str, int]:
    ext = counters()["TcpExt"]
    return {name: int(ext.get(name, 0)) for name in COUNTERS}


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in before}


def serve(port: int, interval: float) -> None:
    resume = threading.Event()
    signal.signal(signal.SIGUSR1, lambda _s, _f: resume.set())
    listener = listener_on(port, 1)
    emit("listening", port=port)
    conn, _ = listener.accept()
    before = tcp_ext()
    emit("accepted", rcvbuf=conn.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    samples = []
    while not resume.wait(interval):
        info = tcp_info(conn)
        samples.append({"at": time.time(), **queues(conn), "rcv_wnd": info.get("rcv_wnd")})
    emit("resumed", unread=queues(conn)["unread"])
    received, intact = 0, True
    while chunk := conn.recv(CHUNK):
        intact = intact and chunk == pattern(received, len(chunk))
        received += len(chunk)
    conn.close()
    emit("done", received=received, intact=intact, samples=samples, counters=delta(before, tcp_ext()))
    signal.pause()  # the namespace stays (a capture beside it) until the container is removed


WINDOW_WAIT = 10.0  # seconds a full send buffer may wait for the peer's window to close (a busy machine)


def fill(sock: socket.socket, patience: float) -> int:
    """Write until the kernel has taken nothing for ``patience`` seconds and the peer's window is closed (a
    send buffer full of data still in flight, on a machine slow to acknowledge, is not yet the window's
    doing); the bytes it took."""
    sent, stuck_since = 0, None
    deadline = time.monotonic() + WINDOW_WAIT
    while True:
        try:
            sent += sock.send(pattern(sent, CHUNK))
            stuck_since = None
        except BlockingIOError:
            stuck_since = stuck_since or time.monotonic()
            stuck = time.monotonic() - stuck_since >= patience
            if stuck and (tcp_info(sock).get("snd_wnd") == 0 or time.monotonic() > deadline):
                return sent
            time.sleep(0.01)


def sample(sock: socket.socket) -> dict[str, Any]:
    info = tcp_info(sock)
    return {
        "at": time.time(),
        "snd_wnd": info.get("snd_wnd"),
        "probes": info.get("probes"),
        "backoff": info.get("backoff"),
        "rto_us": info.get("rto"),
        **queues(sock),
    }


def send(address: tuple[str, int], patience: float, interval: float, watch: float) -> None:
    before = tcp_ext()
    sock = socket.create_connection(address)
    sock.setblocking(False)
    sent = fill(sock, patience)
    blocked_at = time.time()
    local = "{}:{}".format(*sock.getsockname())
    # The first sample is the moment it blocked, taken before saying so: whoever lets the reader read on
    # hearing "blocked" cannot reopen the window before it is sampled closed.
    samples = [sample(sock)]
    first = samples[0]
    emit("blocked", sent=sent, local=local, **{k: first[k] for k in ("unread", "unacked_out", "snd_wnd")})
    deadline = time.monotonic() + watch
    while time.monotonic() < deadline and samples[-1]["unacked_out"] != 0:
        time.sleep(interval)
        samples.append(sample(sock))
    drained = queues(sock)["unacked_out"] == 0
    sock.close()
    emit("done", sent=sent, blocked_at=blocked_at, drained=drained, samples=samples, counters=delta(before, tcp_ext()))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m probes.window")
    parser.add_argument("role", choices=("serve", "send"))
    parser.add_argument("--server", default="server")
    parser.add_argument("--port", type=int, default=9736)
    parser.add_argument("--patience", type=float, default=0.5, help="seconds without progress that mean 'full'")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between samples")
    parser.add_argument("--watch", type=float, default=30.0, help="at most this long after the queue filled")
    args = parser.parse_args()
    if args.role == "serve":
        serve(args.port, args.interval)
    else:
        send((socket.gethostbyname(args.server), args.port), args.patience, args.interval, args.watch)


if __name__ == "__main__":
    main()
