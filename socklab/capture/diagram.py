"""The exchange as a sequence diagram: two lifelines (the hosts), one arrow per segment, time downwards.

Rows are evenly spaced so that the handshake's microseconds stay readable; a long pause (the server's
delay, a retransmission timeout) gets a row of its own that says how long it was. Retransmissions are
red, resets dark red.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display here
import matplotlib.pyplot as plt

from socklab.capture.packets import Segment

PAUSE = 0.2  # seconds between two segments that earn a row of their own
LEFT, RIGHT = 0.25, 0.8
SLOPE = 0.35  # rows an arrow descends: the segment travels


@dataclass(frozen=True)
class Host:
    name: str
    address: str  # ip


def _colour(segment: Segment) -> str:
    if "RST" in segment.flags:
        return "darkred"
    return "red" if segment.retransmission else "black"


def draw_sequence(segments: list[Segment], client: Host, server: Host, path: Path, *, title: str) -> Path:
    rows: list[tuple[str, object]] = []
    previous: float | None = None
    for segment in segments:
        if previous is not None and segment.time - previous >= PAUSE:
            rows.append(("pause", segment.time - previous))
        rows.append(("segment", segment))
        previous = segment.time
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8.5, 1.8 + 0.42 * len(rows)))
    bottom = len(rows) + 0.5
    for x, host in ((LEFT, client), (RIGHT, server)):
        ax.plot([x, x], [-0.6, bottom], color="gray", linewidth=1)
        ax.text(x, -0.9, f"{host.name}\n{host.address}", ha="center", va="bottom", fontsize=9, weight="bold")
    x_of = {client.address: LEFT, server.address: RIGHT}
    for row, (kind, item) in enumerate(rows):
        if kind == "pause":
            ax.text(0.5 * (LEFT + RIGHT), row + 0.2, f"… {item:.3f} s pass …", ha="center", fontsize=8, style="italic")
            continue
        assert isinstance(item, Segment)
        start = x_of.get(item.src.rpartition(":")[0], LEFT)
        end = x_of.get(item.dst.rpartition(":")[0], RIGHT)
        colour = _colour(item)
        ax.annotate(
            "",
            xy=(end, row + SLOPE),
            xytext=(start, row),
            arrowprops={"arrowstyle": "->", "color": colour, "linewidth": 1.2},
        )
        ax.text(
            0.5 * (LEFT + RIGHT), row + SLOPE / 2 - 0.08, item.label, ha="center", va="bottom", fontsize=8, color=colour
        )
        ax.text(0.01, row + 0.1, f"{item.time:.6f} s", fontsize=7, family="monospace", va="center")
        ax.text(0.99, row + 0.1, f"seq {item.seq} ack {item.ack}", fontsize=6, ha="right", va="center", color="gray")
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom, -1.2)
    ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
