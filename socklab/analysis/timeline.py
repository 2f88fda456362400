"""Draw what server versions do in time: one panel per version, one bar per client from connect to answer.

A concurrent server shows N bars lying on top of each other, each about ``delay`` long; a serial one shows a
staircase, each client waiting for the ones before it. Pure helpers (``bar_rows``, ``caption``) decide what
to draw; ``draw_timeline`` only lays it out. It uses ``matplotlib.figure.Figure`` directly, never pyplot, so
no GUI backend and no global figure registry are involved.
"""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from socklab.analysis.verdict import TOLERANCE, Interval, judge, late_after

FORMATS = (".png", ".svg", ".pdf")
ON_TIME = "#1f77b4"  # blue
LATE = "#ff7f0e"  # orange
SHADE = "#d62728"  # red: a fault was on
LANE_WIDTH = 4.5  # inches per panel
BAR_HEIGHT = 0.25  # inches per client row
MAX_HEIGHT = 16.0  # inches: 50 clients still fit, more get thinner rows
SHORT_HOST = 12  # a container id is 12 characters; longer names (socklab-<run>-client-7) crowd the axis
CAPTION_WIDTH = 38  # characters per caption line, so it fits over a 4.5 in panel
_bar_ids = itertools.count(1)


@dataclass(frozen=True)
class Lane:
    """One server version's run: what its clients saw."""

    title: str  # e.g. "socklab/server:fork" or "fork"
    intervals: Sequence[Interval]  # one per answered client
    delay: float  # the server's configured delay
    clients: int  # how many clients were started (some may be unanswered)
    judged_by: str = "clients"  # whose timings the bars are: the clients', or the server log's
    shaded: Sequence[tuple[float, float, str]] = ()  # (start, end, label) in POSIX seconds: faults, shaded


@dataclass(frozen=True)
class Bar:
    """One client's row, in seconds since the lane's first connect."""

    label: str
    offset: float
    length: float
    late: bool  # waited for another client's turn (verdict.late_after)


def bar_rows(intervals: Sequence[Interval], delay: float, tolerance: float = TOLERANCE) -> list[Bar]:
    """Rows sorted by connect time (first client first), relative to this lane's earliest connect.

    Each lane ran at its own wall-clock time, so only offsets within a lane are comparable.
    """
    if not intervals:
        return []
    origin = min(i.start for i in intervals)
    ordered = sorted(intervals, key=lambda i: (i.start, i.end, i.host))
    rows = []
    for index, interval in enumerate(ordered, start=1):
        label = f"{index} {interval.host}" if interval.host and len(interval.host) <= SHORT_HOST else str(index)
        length = interval.end - interval.start
        rows.append(Bar(label, interval.start - origin, length, length > late_after(delay, tolerance)))
    return rows


def caption(lane: Lane, tolerance: float = TOLERANCE) -> str:
    """A short verdict for a panel title, from the same ``judge`` the lab uses (unwrapped)."""
    if lane.judged_by == "nothing":
        return "cannot judge: no timings from the clients or the server log"
    verdict = judge(lane.intervals, clients=lane.clients, delay=lane.delay, tolerance=tolerance)
    if verdict.concurrent:
        return f"concurrent: {verdict.overlap} at once, slowest {verdict.slowest:.2f} s"
    parts = []
    if verdict.answered < verdict.clients:
        parts.append(f"{verdict.answered}/{verdict.clients} answered")
    late = sum(bar.late for bar in bar_rows(lane.intervals, lane.delay, tolerance))
    if late:
        parts.append(f"{late} of {verdict.answered} waited > {late_after(lane.delay, tolerance):g} s")
    needed = -(-verdict.clients // 2)  # ceil, as in judge
    if verdict.clients >= 2 and verdict.answered and verdict.overlap < needed:
        parts.append(f"at most {verdict.overlap} at once")
    if verdict.slowest is not None:
        parts.append(f"slowest {verdict.slowest:.2f} s")
    return "NOT concurrent: " + ", ".join(parts)


def x_limit(lanes: Sequence[Lane], tolerance: float = TOLERANCE) -> float:
    """One right edge for every panel: the longest lane, and at least past every lane's lateness line."""
    right = 0.0
    for lane in lanes:
        rows = bar_rows(lane.intervals, lane.delay, tolerance)
        right = max(right, late_after(lane.delay, tolerance), *(bar.offset + bar.length for bar in rows))
    return (right or 1.0) * 1.12  # headroom for the wait labels at the bars' ends


def draw_timeline(lanes: Sequence[Lane], path: str | Path) -> Path:
    """Draw ``lanes`` side by side into ``path`` (.png, .svg or .pdf, from its suffix); return the path."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        named = repr(path.suffix) if path.suffix else "a file without a suffix"
        raise ValueError(f"cannot draw a timeline as {named} ({path}): use .png, .svg or .pdf")
    if not lanes:
        raise ValueError("no lanes to draw")

    all_rows = [bar_rows(lane.intervals, lane.delay) for lane in lanes]
    # Every panel gets as many rows as the largest lane (unanswered clients included), so bars are equally thick.
    n_rows = max(1, *(len(rows) for rows in all_rows), *(lane.clients for lane in lanes))
    height = min(MAX_HEIGHT, max(2.5, BAR_HEIGHT * n_rows + 2.0))
    right = x_limit(lanes)
    label_size = 9 if n_rows <= 20 else 7
    show_waits = n_rows <= 15  # a number per bar helps for a few clients and clutters for 50

    fig = Figure(figsize=(LANE_WIDTH * len(lanes), height), layout="constrained")
    axes = fig.subplots(1, len(lanes), sharex=True, squeeze=False)[0]
    for ax, lane, rows in zip(axes, lanes, all_rows, strict=True):
        title = lane.title + "\n" + textwrap.fill(caption(lane), CAPTION_WIDTH)
        ax.set_title(title, fontsize=10, loc="left")
        ax.set_xlim(0, right)
        ax.set_ylim(n_rows - 0.5, -1.2)  # inverted: the first client at the top, headroom for the delay label
        ax.axvline(lane.delay, color="0.35", linestyle="--", linewidth=1)
        ax.annotate(
            f"delay {lane.delay:g} s",
            xy=(lane.delay, 1),
            xycoords=("data", "axes fraction"),
            xytext=(3, -3),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=8,
            color="0.35",
        )
        # Per panel, not fig.supxlabel: each panel counts from its own first connect, and supxlabel collides
        # with an "outside" legend under constrained layout.
        ax.set_xlabel("seconds since the first client connected", fontsize=9)
        ax.grid(axis="x", color="0.9")
        ax.set_axisbelow(True)
        if not rows:
            ax.set_yticks([])
            ax.text(
                0.5,
                0.5,
                "no client was answered",
                transform=ax.transAxes,
                ha="center",
                va="center",
                bbox={"facecolor": "white", "edgecolor": "0.6"},
            )
            continue
        origin = min(i.start for i in lane.intervals)
        for start, end, label in lane.shaded:
            ax.axvspan(max(0.0, start - origin), max(0.0, end - origin), color=SHADE, alpha=0.15, linewidth=0)
            ax.text(max(0.0, start - origin), -1.1, label, fontsize=7, color=SHADE, va="top")
        ys = range(len(rows))
        bars = ax.barh(
            ys,
            [bar.length for bar in rows],
            left=[bar.offset for bar in rows],
            height=0.7,
            color=[LATE if bar.late else ON_TIME for bar in rows],
        )
        for patch in bars.patches:  # an id per bar in an SVG, so a page that shows it can be checked
            patch.set_gid(f"timeline-bar-{next(_bar_ids)}")
        ax.set_yticks(list(ys), [bar.label for bar in rows], fontsize=label_size)
        if show_waits:
            for y, bar in zip(ys, rows, strict=True):
                ax.text(bar.offset + bar.length, y, f" {bar.length:.2f} s", va="center", fontsize=7)
        if unanswered := lane.clients - len(rows):
            ax.text(0.98, 0.02, f"{unanswered} not answered", transform=ax.transAxes, ha="right", fontsize=8)

    axes[0].set_ylabel("client (by connect time)")
    fig.legend(
        handles=[
            Patch(color=ON_TIME, label=f"answered within delay + max({TOLERANCE:g} s, delay/2)"),
            Patch(color=LATE, label="waited longer: for another client's turn"),
            Line2D([], [], color="0.35", linestyle="--", linewidth=1, label="delay: a concurrent server's wait"),
        ],
        loc="outside lower center",
        ncols=3 if len(lanes) > 1 else 1,  # one 4.5 in panel is too narrow for a row of three
        fontsize=8,
        frameon=False,
    )

    path.parent.mkdir(parents=True, exist_ok=True)
    # Real <text> in SVG (not glyph outlines): searchable, selectable, smaller. rc_context restores it afterwards.
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(path, format=suffix[1:], dpi=120)
    fig.clear()  # never registered with pyplot, so dropping it frees it; clear breaks artist cycles early
    return path
