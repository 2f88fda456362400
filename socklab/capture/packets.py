"""A pcap as the segments of TCP conversations: who sent what when, named as a lesson names them.

dpkt reads the file; this module only names what it read: SYN, SYN-ACK, ACK, the data byte ('A'),
FIN, RST, with relative sequence numbers, and marks a segment that repeats an earlier one's sequence
range as a retransmission, an empty ACK one byte behind what its sender has sent as a probe (a keepalive
or zero-window probe: the kernel sends snd_una - 1 to draw an ACK), and a window of 0 (the receiver's
buffer is full).
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
    src: str  # ip:port
    dst: str
    flags: tuple[str, ...]  # SYN, FIN, RST, ACK as set
    seq: int  # relative to the sender's first sequence number
    ack: int  # relative to the receiver's first sequence number (0 without ACK)
    payload: bytes
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


def _endpoint(address: bytes, port: int) -> str:
    return f"{socket.inet_ntoa(address)}:{port}"


def read_segments(pcap: bytes, *, port: int | None = None) -> list[Segment]:
    """The TCP segments of an Ethernet pcap (only those to or from ``port``, if given), in capture order."""
    segments: list[Segment] = []
    first_seq: dict[str, int] = {}
    seen: set[tuple[str, int, int, bool, bool]] = set()
    next_seq: dict[str, int] = {}  # per sender: the relative sequence number after all it has sent
    start: float | None = None
    for timestamp, frame in dpkt.pcap.Reader(io.BytesIO(pcap)):
        ip = dpkt.ethernet.Ethernet(frame).data
        if not isinstance(ip, dpkt.ip.IP) or not isinstance(ip.data, dpkt.tcp.TCP):
            continue
        tcp = ip.data
        if port is not None and port not in (tcp.sport, tcp.dport):
            continue
        start = timestamp if start is None else start
        src, dst = _endpoint(ip.src, tcp.sport), _endpoint(ip.dst, tcp.dport)
        flags = tuple(name for name, bit in FLAG_NAMES if tcp.flags & bit)
        if "SYN" in flags:
            first_seq.setdefault(src, tcp.seq)
        base = first_seq.get(src, tcp.seq)
        payload = bytes(tcp.data)
        length = ip.len - ip.hl * 4 - tcp.off * 4  # as sent: the capture may have kept less of it
        # A segment that occupies sequence space (data, SYN or FIN) and was seen before is sent again.
        key = (src, tcp.seq, length, "SYN" in flags, "FIN" in flags)
        occupies = bool(length) or "SYN" in flags or "FIN" in flags
        retransmission = occupies and key in seen
        seen.add(key)
        seq = (tcp.seq - base) % 2**32
        probe = flags == ("ACK",) and not length and src in next_seq and seq == next_seq[src] - 1
        end = seq + length + ("SYN" in flags) + ("FIN" in flags)
        next_seq[src] = max(next_seq.get(src, 0), end)
        ack = (tcp.ack - first_seq.get(dst, tcp.ack)) % 2**32 if "ACK" in flags else 0
        segments.append(
            Segment(
                time=round(timestamp - start, 6),
                src=src,
                dst=dst,
                flags=flags,
                seq=seq,
                ack=ack,
                payload=payload,
                retransmission=retransmission,
                probe=probe,
                window=tcp.win,
                at=timestamp,
                length=length,
            )
        )
    return segments


def listing(segments: list[Segment], names: dict[str, str]) -> str:
    """The text form: one line per segment, relative time, who to whom, what, seq/ack."""
    lines = []
    for s in segments:
        who = f"{names.get(s.src.rpartition(':')[0], s.src)} -> {names.get(s.dst.rpartition(':')[0], s.dst)}"
        lines.append(
            f"{s.time:10.6f}  {s.src:>21} -> {s.dst:<21} {who:<17} {s.label:<28} seq={s.seq} ack={s.ack} len={s.size}"
        )
    return "\n".join(lines)
