"""Every TCP frame on a namespace's interface, as the kernel timestamps it: an AF_PACKET socket made there.

The frames go to the host as they come (base64, cut to ``SNAP`` bytes: the headers and the first payload
bytes), where dpkt reads them (``socklab.capture.packets``); here they are only picked (TCP over IPv4 or
IPv6, on the interface the lab's network gave the container) and timed (``SO_TIMESTAMPNS``: when the
kernel saw the frame, not when we read it).
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Any

__all__ = ["SNAP", "Capture", "is_tcp"]

ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = 35  # SOL_SOCKET option (and control message) with the receive time as a timespec
PACKET_OUTGOING = 4  # the pkttype of a frame this host sent
SNAP = 256  # bytes kept of each frame: Ethernet + IP + TCP headers with options + 64 bytes of payload or more
BURST = 256  # frames read from one socket before the loop looks at the others
TIMESPEC = struct.Struct("qq")


def is_tcp(frame: bytes) -> bool:
    """An Ethernet frame carrying TCP over IPv4 or IPv6 (no IPv6 extension headers: none are used here)."""
    if len(frame) < 34:
        return False
    ethertype = frame[12:14]
    if ethertype == b"\x08\x00":
        return frame[23] == socket.IPPROTO_TCP
    return ethertype == b"\x86\xdd" and len(frame) >= 54 and frame[20] == socket.IPPROTO_TCP


def _stamp(ancillary: list[tuple[int, int, Any]]) -> float:
    """The kernel's receive time from ``SO_TIMESTAMPNS``'s control message (now, if it is missing)."""
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= TIMESPEC.size:
            seconds, nanoseconds = TIMESPEC.unpack(value[: TIMESPEC.size])
            return float(seconds + nanoseconds / 1e9)
    return time.time()


class Capture:
    """An AF_PACKET socket on ``interface`` of the namespace the calling thread is in when it is made."""

    def __init__(self, interface: str = "eth0") -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            self.sock.bind((interface, ETH_P_ALL))
            self.sock.setblocking(False)
        except OSError:
            self.sock.close()
            raise

    def fileno(self) -> int:
        return self.sock.fileno()

    def frames(self) -> list[tuple[float, bytes, bool]]:
        """The TCP frames waiting now: (kernel time, first ``SNAP`` bytes, sent by this host); OSError when
        the interface went away (the container stopped)."""
        found = []
        for _ in range(BURST):
            try:
                data, ancillary, _flags, address = self.sock.recvmsg(SNAP, socket.CMSG_SPACE(TIMESPEC.size))
            except BlockingIOError:
                break
            if not is_tcp(data):
                continue
            found.append((_stamp(ancillary), data, address[2] == PACKET_OUTGOING))
        return found

    def close(self) -> None:
        self.sock.close()
