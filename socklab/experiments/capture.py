"""Packets as evidence for an experiment: tcpdump beside one of the stage's containers, read per connection.

The capture itself is ``socklab.capture`` (tcpdump in a tools sidecar, the pcap read with dpkt); this
module only picks one connection out of it and writes it as a ladder seen from one end: ``→ 'A'`` for
what that end sent, ``← FIN-ACK`` for what it received.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from socklab.capture.packets import Segment, read_segments
from socklab.capture.tcpdump import Tcpdump
from socklab.experiments.stage import Stage
from socklab.lab.containers import LabContainer
from socklab.lab.sidecar import tools_image

# Headers and the first bytes of data: at full length a burst of a few hundred segments within milliseconds
# overflowed the kernel's capture buffer here (nagle with TCP_NODELAY: 133 of 375 dropped); at 128 bytes, none.
SNAPLEN = 128


@contextlib.contextmanager
def capture(stage: Stage, target: LabContainer) -> Iterator[Tcpdump]:
    """tcpdump on ``target``'s interface while the block runs; ``.pcap`` holds the packets after it.

    ``target`` must outlive the block: its network namespace is the capture's."""
    with Tcpdump(stage.lab, target, image=tools_image(stage.docker, stage.progress), snaplen=SNAPLEN) as dump:
        yield dump


def segments(dump: Tcpdump, port: int | None = None) -> list[Segment]:
    return read_segments(dump.pcap, port=port)


def connection(found: list[Segment], end: str) -> list[Segment]:
    """The segments to or from ``end`` (ip:port): one connection, both directions, in capture order."""
    return [s for s in found if end in (s.src, s.dst)]


def ladder(found: list[Segment], end: str, *, since: float = 0.0, until: float = float("inf")) -> list[str]:
    """One connection as seen from ``end``: ``→ label`` sent, ``← label`` received, between two times (epoch)."""
    return [f"{'→' if s.src == end else '←'} {s.label}" for s in connection(found, end) if since <= s.at <= until]


def timed(found: list[Segment], end: str) -> list[str]:
    """Segments as seen from ``end``, each with its milliseconds since the first: ``+40.1 ms ← ACK``."""
    if not found:
        return []
    return [f"{(s.at - found[0].at) * 1000:+.1f} ms {'→' if s.src == end else '←'} {s.label}" for s in found]


def squeeze(steps: list[str]) -> list[str]:
    """Repeats as one, counted: ``→ probe ×3``, ``(→ probe ← ACK) ×7``."""
    squeezed, i = [], 0
    while i < len(steps):
        for width in (1, 2):
            unit = steps[i : i + width]
            repeats = 1
            while steps[i + repeats * width : i + (repeats + 1) * width] == unit:
                repeats += 1
            if repeats > 1:
                text = unit[0] if width == 1 else f"({' '.join(unit)})"
                squeezed.append(f"{text} ×{repeats}")
                i += repeats * width
                break
        else:
            squeezed.append(steps[i])
            i += 1
    return squeezed
