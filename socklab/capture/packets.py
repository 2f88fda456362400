"""A pcap as the segments of TCP conversations: who sent what when, named as a lesson names them.

dpkt reads the file, or each frame as ``--kernel`` streams it (``SegmentReader``); this module only names
what it read: SYN, SYN-ACK, ACK, the data byte ('A'), FIN, RST, with sequence numbers relative to each
direction's first, and marks a segment that repeats an earlier one's sequence range as a retransmission, an
empty ACK one byte behind what its sender has sent as a probe (a keepalive or zero-window probe: the kernel
sends snd_una - 1 to draw an ACK), and a window of 0 (the receiver's buffer is full).
"""

from __future__ import annotations

import io
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import dpkt

FLAG_NAMES = (("SYN", dpkt.tcp.TH_SYN), ("FIN", dpkt.tcp.TH_FIN), ("RST", dpkt.tcp.TH_RST), ("ACK", dpkt.tcp.TH_ACK))
LETTERS = {"SYN": "S", "FIN": "F", "RST": "R", "PSH": "P", "ACK": "A"}  # tcpdump's, in the event log's order


def flag_letters(names: Iterable[str]) -> str:
    """Flags as the event log writes them: tcpdump's letters (``("SYN", "ACK")`` -> ``"SA"``)."""
    given = set(names)
    return "".join(letter for name, letter in LETTERS.items() if name in given)


def flag_names(flags: str | Iterable[str]) -> tuple[str, ...]:
    """Flags as names from the log's letters (``"SA"``) or an older log's list of names."""
    if isinstance(flags, str):
        return tuple(name for name, letter in LETTERS.items() if letter in flags)
    return tuple(flags)


@dataclass(frozen=True)
class Segment:
    time: float  # seconds since the first segment
    src: str  # ip:port ([ip]:port for IPv6)
    dst: str
    flags: tuple[str, ...]  # SYN, FIN, RST, ACK as set
    seq: int  # relative to the sender's first sequence number
    ack: int  # relative to the receiver's first sequence number (0 without ACK)
    payload: bytes  # as captured: a capture cut short (``--kernel`` keeps 256 bytes a frame) holds the first ones
    retransmission: bool
    probe: bool = False  # an empty ACK one byte behind its sender's next sequence number
    window: int | None = None  # the advertised window as sent (unscaled); None where not read from a pcap
    at: float = 0.0  # the capture's own timestamp (seconds since the epoch)
    length: int | None = None  # bytes of data as sent (a short snapshot keeps fewer); None: len(payload)

    @property
    def size(self) -> int:
        """Bytes of data the segment carried, whatever the capture kept of them."""
        return len(self.payload) if self.length is None else self.length

    @property
    def label(self) -> str:
        """What the lesson calls it: SYN, SYN-ACK, ACK, 'A', 'B' + FIN, FIN-ACK, RST."""
        if "SYN" in self.flags:
            name = "SYN-ACK" if "ACK" in self.flags else "SYN"
        elif "RST" in self.flags:
            name = "RST"
        elif self.size:
            name = _data_name(self.payload, self.size) + (" + FIN" if "FIN" in self.flags else "")
        elif "FIN" in self.flags:
            name = "FIN-ACK" if "ACK" in self.flags else "FIN"
        elif self.probe:
            name = "probe"
        else:
            name = "ACK"
        if self.window == 0 and "RST" not in self.flags:
            name += " (window 0)"
        return name + (" (retransmission)" if self.retransmission else "")


def _data_name(payload: bytes, size: int) -> str:
    if size == 1 and payload:
        char = chr(payload[0])
        return repr(char) if char.isprintable() else f"0x{payload[0]:02x}"
    return f"{size} bytes"


def _endpoint(family: int, address: bytes, port: int) -> str:
    text = socket.inet_ntop(family, address)
    return f"[{text}]:{port}" if family == socket.AF_INET6 else f"{text}:{port}"


def tcp_of(frame: bytes) -> tuple[str, str, dpkt.tcp.TCP, int] | None:
    """(source, destination, the TCP segment, its payload bytes on the wire) of an Ethernet frame that carries
    TCP over IPv4 or IPv6; None for any other frame. A frame cut short is read as far as it goes."""
    try:
        ip = dpkt.ethernet.Ethernet(frame).data
    except dpkt.UnpackError:
        return None
    if isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.tcp.TCP):
        family, wire = socket.AF_INET, ip.len - ip.hl * 4
    elif isinstance(ip, dpkt.ip6.IP6) and isinstance(ip.data, dpkt.tcp.TCP):
        family, wire = socket.AF_INET6, ip.plen
    else:
        return None
    tcp = ip.data
    src, dst = _endpoint(family, ip.src, tcp.sport), _endpoint(family, ip.dst, tcp.dport)
    return src, dst, tcp, max(0, wire - tcp.off * 4)


class SegmentReader:
    """Frames in, one at a time, segments out: sequence numbers relative to the first of their direction of
    their connection (a server's capture holds many connections from one endpoint), a segment that repeats an
    earlier one's sequence range marked as a retransmission, an empty ACK one byte behind what its sender has
    sent marked as a probe. One reader per capture point."""

    def __init__(self, *, port: int | None = None) -> None:
        self.port = port
        self.first_seq: dict[tuple[str, str], int] = {}  # (sender, receiver) -> the sender's first sequence number
        self.next_seq: dict[tuple[str, str], int] = {}  # (sender, receiver) -> relative number after all it sent
        self.seen: set[tuple[str, str, int, int, bool, bool]] = set()
        self.start: float | None = None

    def read(self, timestamp: float, frame: bytes) -> Segment | None:
        """The frame's segment (None: not TCP, or not on ``port``)."""
        found = tcp_of(frame)
        if found is None:
            return None
        src, dst, tcp, length = found
        if self.port is not None and self.port not in (tcp.sport, tcp.dport):
            return None
        self.start = timestamp if self.start is None else self.start
        flags = tuple(name for name, bit in FLAG_NAMES if tcp.flags & bit)
        way, back = (src, dst), (dst, src)
        if "SYN" in flags:
            self.first_seq[way] = tcp.seq  # a new connection on the same pair of ends starts again
        base = self.first_seq.setdefault(way, tcp.seq)
        # A segment that occupies sequence space (data, SYN or FIN) and was seen before is sent again.
        key = (src, dst, tcp.seq, length, "SYN" in flags, "FIN" in flags)
        retransmission = (length > 0 or "SYN" in flags or "FIN" in flags) and key in self.seen
        self.seen.add(key)
        seq = (tcp.seq - base) % 2**32
        probe = flags == ("ACK",) and not length and way in self.next_seq and seq == self.next_seq[way] - 1
        end = seq + length + ("SYN" in flags) + ("FIN" in flags)
        self.next_seq[way] = max(self.next_seq.get(way, 0), end) if "SYN" not in flags else end
        payload = bytes(tcp.data)[:length]
        return Segment(
            time=round(timestamp - self.start, 6),
            src=src,
            dst=dst,
            flags=flags,
            seq=seq,
            ack=(tcp.ack - self.first_seq.get(back, tcp.ack)) % 2**32 if "ACK" in flags else 0,
            payload=payload,
            retransmission=retransmission,
            probe=probe,
            window=tcp.win,
            at=timestamp,
            length=length,
        )


def read_segments(pcap: bytes, *, port: int | None = None) -> list[Segment]:
    """The TCP segments of an Ethernet pcap (only those to or from ``port``, if given), in capture order."""
    reader = SegmentReader(port=port)
    return [s for timestamp, frame in dpkt.pcap.Reader(io.BytesIO(pcap)) if (s := reader.read(timestamp, frame))]


def listing(segments: list[Segment], names: dict[str, str]) -> str:
    """The text form: one line per segment, relative time, who to whom, what, seq/ack."""
    lines = []
    for s in segments:
        who = f"{names.get(s.src.rpartition(':')[0], s.src)} -> {names.get(s.dst.rpartition(':')[0], s.dst)}"
        lines.append(
            f"{s.time:10.6f}  {s.src:>21} -> {s.dst:<21} {who:<17} {s.label:<28} seq={s.seq} ack={s.ack} len={s.size}"
        )
    return "\n".join(lines)
