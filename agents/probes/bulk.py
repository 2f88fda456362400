"""A bulk transfer, watched from the sender's socket: its congestion window, loss state and retransmissions.

``serve`` reads every connection (each in a thread of its own, several senders may come at once) and
checks the bytes: byte i of a stream is i % 251. On SIGUSR1 it tallies every connection so far: bytes
read, bytes its kernel holds unread (SIOCINQ), whether they were all in order, whether EOF came.

``send`` makes one transfer per ``--target NAME=HOST``, one after another: it writes for ``--seconds``,
sampling its own TCP_INFO every ``--interval`` (cwnd, ssthresh, smoothed rtt, retransmissions, the
congestion state), then stops writing and waits, ``--drain`` at most, until every byte it wrote is
acknowledged and the receiver has closed its end too. Under heavy loss the retransmission timer backs
off to seconds, and that may not happen in time: the connection is then left to the kernel (kept open,
not reset, so that nothing acknowledged is thrown away), and the receiver's tally says what arrived.
Each transfer reports its congestion control algorithm and the sender namespace's counters over it.
After the last one the sender waits (SIGUSR2, or ``--linger``) so its kernel can finish what it holds.
"""

from __future__ import annotations

import argparse
import contextlib
import select
import signal
import socket
import threading
import time
from typing import Any

from probes.events import emit
from probes.kernel import counters
from probes.sockets import listener as listener_on
from probes.tcpinfo import CA_STATES, congestion_control, queues, tcp_info
from probes.window import CHUNK, pattern

COUNTERS = {
    "Tcp": ("RetransSegs", "OutSegs"),
    "TcpExt": ("TCPTimeouts", "TCPLossProbes", "TCPSackRecovery", "TCPFastRetrans", "TCPSlowStartRetrans"),
}
# One sample: [seconds since the first write, cwnd, ssthresh (None before any loss), total retransmissions,
# congestion state (index of CA_STATES), bytes acknowledged, smoothed rtt in us]
SAMPLE_FIELDS = ("t", "cwnd", "ssthresh", "total_retrans", "ca_state", "bytes_acked", "rtt_us")


def namespace_counters() -> dict[str, int]:
    tables = counters()
    return {name: int(tables[table].get(name, 0)) for table, names in COUNTERS.items() for name in names}


class Receiving:
    """One connection being read, and what has come so far.

    A chunk is taken from the kernel and counted under one lock, which the tally takes too: so a tally's
    bytes read plus bytes unread never miss a chunk that is between the two."""

    def __init__(self, conn: socket.socket, peer: str) -> None:
        self.conn, self.peer = conn, peer
        self.read, self.intact, self.ending = 0, True, ""
        self.lock = threading.Lock()

    def run(self) -> None:
        self.conn.setblocking(False)
        while not self.ending:
            select.select([self.conn], [], [], 0.1)
            with self.lock:
                self._take()
        self.conn.close()

    def _take(self) -> None:
        try:
            chunk = self.conn.recv(CHUNK)
        except BlockingIOError:
            return
        except OSError as exc:
            self.ending = type(exc).__name__
            return
        if not chunk:
            self.ending = "eof"
            return
        self.intact = self.intact and chunk == pattern(self.read, len(chunk))
        self.read += len(chunk)

    def tally(self) -> dict[str, Any]:
        with self.lock:
            unread = 0
            if not self.ending:
                with contextlib.suppress(OSError):
                    unread = queues(self.conn)["unread"]
            return {
                "peer": self.peer,
                "read": self.read,
                "unread": unread,
                "intact": self.intact,
                "ending": self.ending,
            }


def serve(port: int) -> None:
    connections: list[Receiving] = []
    signal.signal(signal.SIGUSR1, lambda _s, _f: emit("tally", connections=[c.tally() for c in connections]))
    listener = listener_on(port, 5)
    emit("listening", port=port)
    while True:
        conn, address = listener.accept()
        connections.append(Receiving(conn, f"{address[0]}:{address[1]}"))
        threading.Thread(target=connections[-1].run, daemon=True).start()


def sample(sock: socket.socket, start: float) -> list[Any]:
    info = tcp_info(sock)
    ssthresh = info["snd_ssthresh"]
    return [
        round(time.monotonic() - start, 4),
        info["snd_cwnd"],
        ssthresh if ssthresh < 0x7FFFFFFF else None,  # no loss yet: slow start has no ceiling
        info["total_retrans"],
        CA_STATES.index(info["ca_state"]) if info["ca_state"] in CA_STATES else -1,
        info.get("bytes_acked", 0),
        info["rtt"],
    ]


def write_for(sock: socket.socket, seconds: float, interval: float, samples: list[list[Any]], start: float) -> int:
    """Write the stream as fast as the kernel takes it for ``seconds``, sampling as we go; bytes written."""
    written, next_sample = 0, start
    while (now := time.monotonic()) < start + seconds:
        if now >= next_sample:
            samples.append(sample(sock, start))
            next_sample = now + interval
        _, writable, _ = select.select([], [sock], [], max(0.0, next_sample - time.monotonic()))
        if writable:
            with contextlib.suppress(BlockingIOError):
                written += sock.send(pattern(written, CHUNK))
    return written


def drain(sock: socket.socket, until: float, interval: float, samples: list[list[Any]], start: float) -> bool:
    """Wait until every byte is acknowledged, then for the receiver's FIN after ours; True if both came."""
    while queues(sock)["unacked_out"] and time.monotonic() < until:
        samples.append(sample(sock, start))
        time.sleep(interval)
    samples.append(sample(sock, start))
    if queues(sock)["unacked_out"]:
        return False
    sock.shutdown(socket.SHUT_WR)
    sock.setblocking(True)
    sock.settimeout(max(0.2, until - time.monotonic()))
    try:
        while sock.recv(CHUNK):
            pass
    except OSError:
        return False
    return True


def transfer(name: str, host: str, args: argparse.Namespace, kept: list[socket.socket]) -> dict[str, Any]:
    before = namespace_counters()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, args.sndbuf)
    sock.settimeout(30)
    began = time.monotonic()
    sock.connect((socket.gethostbyname(host), args.port))
    start = time.monotonic()
    sock.setblocking(False)
    samples: list[list[Any]] = []
    written = write_for(sock, args.seconds, args.interval, samples, start)
    acked_in_time = samples[-1][5] if samples else 0
    finished = drain(sock, time.monotonic() + args.drain, max(args.interval, 0.01), samples, start)
    info = tcp_info(sock)
    record = {
        "target": name,
        "local": "{}:{}".format(*sock.getsockname()),
        "algorithm": congestion_control(sock),
        "connect_seconds": round(start - began, 3),
        "write_seconds": args.seconds,
        "written": written,
        "acked_while_writing": acked_in_time,
        "bytes_acked": min(written, max(0, int(info.get("bytes_acked", 1)) - 1)),  # the kernel counts the SYN
        "finished": finished,
        "total_retrans": info.get("total_retrans"),
        "counters": {k: v - before[k] for k, v in namespace_counters().items()},
        "fields": SAMPLE_FIELDS,
        "samples": samples,
    }
    if finished:
        sock.close()
    else:
        kept.append(sock)  # not reset: the kernel goes on delivering what the receiver may still be owed
    return record


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m probes.bulk")
    parser.add_argument("role", choices=("serve", "send"))
    parser.add_argument("--target", action="append", default=[], metavar="NAME=HOST", help="repeatable")
    parser.add_argument("--port", type=int, default=9736)
    parser.add_argument("--seconds", type=float, default=3.0, help="how long each transfer writes")
    parser.add_argument("--interval", type=float, default=0.005, help="seconds between TCP_INFO samples")
    parser.add_argument("--drain", type=float, default=4.0, help="at most this long for the last ACK and FIN")
    parser.add_argument("--sndbuf", type=int, default=65536, help="SO_SNDBUF: bounds what is left to drain")
    parser.add_argument("--linger", type=float, default=60.0, help="at most this long after the last transfer")
    args = parser.parse_args()
    if args.role == "serve":
        serve(args.port)
        return
    go, stop = threading.Event(), threading.Event()
    signal.signal(signal.SIGUSR1, lambda _s, _f: go.set())
    signal.signal(signal.SIGUSR2, lambda _s, _f: stop.set())
    emit("ready")
    while not go.wait(0.1):
        pass
    kept: list[socket.socket] = []
    for name, _, host in (t.partition("=") for t in args.target):
        emit("transfer", **transfer(name, host, args, kept))
    emit("done", transfers=len(args.target), left_to_the_kernel=len(kept))
    stop.wait(args.linger)


if __name__ == "__main__":
    main()
