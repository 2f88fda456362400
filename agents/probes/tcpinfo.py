"""What the kernel says about one TCP socket the probe owns: ``getsockopt(TCP_INFO)`` and the queue ioctls.

``struct tcp_info`` (linux/tcp.h) only ever grows at its end, and the kernel copies as much of it as both
sides know; so each field is read only when the kernel's copy is long enough to hold it. The times are the
kernel's microseconds (rtt, rto, ato); windows and queues are bytes; cwnd and ssthresh are segments.
"""

from __future__ import annotations

import fcntl
import socket
import struct
import termios
from typing import Any

STATES = (
    "?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT",
    "LAST_ACK", "LISTEN", "CLOSING",
)  # fmt: skip
CA_STATES = ("Open", "Disorder", "CWR", "Recovery", "Loss")
INFINITE_SSTHRESH = 0x7FFFFFFF  # TCP_INFINITE_SSTHRESH: no loss seen yet

# (name, struct format, offset): the fields the experiments read, where linux/tcp.h puts them.
FIELDS = (
    ("state", "B", 0), ("ca_state", "B", 1), ("retransmits", "B", 2), ("probes", "B", 3), ("backoff", "B", 4),
    ("rto", "I", 8), ("ato", "I", 12), ("snd_mss", "I", 16), ("unacked", "I", 24), ("lost", "I", 32),
    ("retrans", "I", 36), ("rtt", "I", 68), ("snd_ssthresh", "I", 76), ("snd_cwnd", "I", 80),
    ("total_retrans", "I", 100), ("bytes_acked", "Q", 120), ("bytes_received", "Q", 128),
    ("segs_out", "I", 136), ("segs_in", "I", 140), ("notsent_bytes", "I", 144), ("min_rtt", "I", 148),
    ("delivered", "I", 192), ("bytes_sent", "Q", 200), ("bytes_retrans", "Q", 208), ("snd_wnd", "I", 228),
    ("rcv_wnd", "I", 232), ("total_rto", "H", 240), ("total_rto_recoveries", "H", 242),
)  # fmt: skip
SIZE = 512  # more than any kernel's struct: the kernel copies min(its size, ours)


def parse(raw: bytes) -> dict[str, Any]:
    """The fields ``raw`` (a kernel's copy of struct tcp_info) holds, by name; states by their names."""
    info: dict[str, Any] = {}
    for name, kind, offset in FIELDS:
        if offset + struct.calcsize(kind) <= len(raw):
            info[name] = struct.unpack_from("<" + kind, raw, offset)[0]
    if "state" in info:
        info["state"] = STATES[info["state"]] if info["state"] < len(STATES) else str(info["state"])
    if "ca_state" in info:
        info["ca_state"] = CA_STATES[info["ca_state"]] if info["ca_state"] < len(CA_STATES) else str(info["ca_state"])
    return info


def tcp_info(sock: socket.socket) -> dict[str, Any]:
    """``getsockopt(IPPROTO_TCP, TCP_INFO)`` of the socket, parsed."""
    return parse(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, SIZE))


def queues(sock: socket.socket) -> dict[str, int]:
    """Bytes received and not yet read (SIOCINQ), and bytes sent and not yet acknowledged (SIOCOUTQ)."""
    found = {}
    for name, request in (("unread", termios.FIONREAD), ("unacked_out", termios.TIOCOUTQ)):
        buffer = fcntl.ioctl(sock.fileno(), request, b"\0\0\0\0")
        found[name] = struct.unpack("i", buffer)[0]
    return found


def congestion_control(sock: socket.socket) -> str:
    """The socket's congestion control algorithm (TCP_CONGESTION): the namespace's default unless set."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0").decode()
