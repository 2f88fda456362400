"""The report's pictures as inline SVG text: the timeline (``analysis.timeline`` for one exchange per client,
a row per client otherwise) and the bench's bars; the kernel's views are ``kernel_plots``'.

Every SVG is cleaned for inlining: no XML declaration, DOCTYPE, metadata or namespace URLs (the report
must hold no URL at all), and ids salted per picture so that two pictures never share one.
"""

from __future__ import annotations

import itertools
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from socklab.analysis.timeline import LATE, ON_TIME, SHADE, Lane, draw_timeline
from socklab.analysis.verdict import Interval
from socklab.report.model import Exchange, FaultView, LabView, RunView, role_of

FAILED = "#d62728"
MAX_ROWS_HEIGHT = 14.0  # inches
_salt = itertools.count(1)

_DROP = (
    re.compile(r"<\?xml[^>]*\?>\s*"),
    re.compile(r"<!DOCTYPE[^>]*>\s*"),
    re.compile(r"<metadata>.*?</metadata>\s*", re.S),
    re.compile(r'\s+xmlns(:\w+)?="[^"]*"'),
)


def inline_svg(text: str) -> str:
    """An SVG file's text, ready to sit inside HTML: no declaration, no metadata, no namespace URL."""
    for pattern in _DROP:
        text = pattern.sub("", text)
    return text.strip()


def _svg(draw: Callable[[Path], object]) -> str:
    """Run ``draw(path)`` into a temporary .svg (real text, ids salted for this picture) and inline it."""
    with (
        tempfile.TemporaryDirectory(prefix="socklab-report-") as folder,
        matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"socklab-{next(_salt)}"}),
    ):
        path = Path(folder) / "picture.svg"
        draw(path)
        return inline_svg(path.read_text())


def _save(fig: Figure, path: Path) -> None:
    fig.savefig(path, format="svg")
    fig.clear()


def _delay(lab: LabView, run: RunView) -> float:
    for value in (lab.server.get("delay"), (lab.verdict or {}).get("delay"), run.args.get("delay")):
        if isinstance(value, int | float):
            return float(value)
    return 0.0


def _shades(faults: Sequence[FaultView], exchanges: Sequence[Exchange]) -> list[tuple[float, float, str]]:
    if not exchanges:
        return []
    starts = [e.start for e in exchanges if e.start is not None]
    ends = [e.ended for e in exchanges if e.ended is not None]
    if not starts or not ends:
        return []
    first, last = min(starts), max(ends)
    return [
        (f.applied, f.end, f.name)
        for f in faults
        if f.applied is not None and f.end is not None and f.applied <= last and f.end >= first
    ]


def one_per_client(lab: LabView) -> bool:
    """Whether the lesson's timeline fits: each client made one exchange."""
    return bool(lab.exchanges) and len(lab.clients) == len(lab.exchanges)


def lesson_timeline(labs: Sequence[LabView], run: RunView) -> str:
    """``socklab run``'s own picture, one panel per lab: a bar per client, connect to answer; faults shaded."""
    lanes = []
    for lab in labs:
        intervals = [Interval(role_of(e.host), e.start, e.ended) for e in lab.exchanges if e.ok and e.start and e.ended]
        judged_by = str((lab.verdict or {}).get("judged_by") or "clients")
        shaded = _shades(run.faults, lab.exchanges)
        lanes.append(Lane(lab.title, intervals, _delay(lab, run), len(lab.clients), judged_by, shaded))
    return _svg(lambda path: draw_timeline(lanes, path))


STEP = "#1f3a93"  # a scenario's step: a dotted line where it fired


def _steps(ax: Any, steps: Sequence[dict[str, Any]], origin: float) -> None:
    """A scenario's steps on a timeline: a dotted line where each fired, its offset and action above it."""
    for step in steps:
        if step.get("kind") == "undo":
            continue
        x = float(step["t"]) - origin
        ax.axvline(x, color=STEP, linestyle=":", linewidth=1)
        label = f"{float(step.get('planned') or 0):g}s {step.get('label') or step.get('action', '')}"
        ax.text(x, -1.15, label, rotation=30, fontsize=7, color=STEP, va="bottom", ha="left")


def exchange_rows(lab: LabView, run: RunView) -> str:
    """A row per client, a bar per exchange (failed ones red), accepted marks, faults shaded, a scenario's
    steps as dotted lines where they fired."""
    clients = lab.clients
    rows = {host: index for index, host in enumerate(clients)}
    starts = [e.start for e in lab.exchanges if e.start is not None]
    origin = min(starts) if starts else min((e.ended for e in lab.exchanges if e.ended), default=0.0)

    def draw(path: Path) -> None:
        height = min(MAX_ROWS_HEIGHT, max(2.4, 0.28 * len(clients) + 1.8))
        fig = Figure(figsize=(9.0, height), layout="constrained")
        ax = fig.subplots()
        for start, end, label in _shades(run.faults, lab.exchanges):
            ax.axvspan(start - origin, end - origin, color=SHADE, alpha=0.15, linewidth=0)
            ax.text(start - origin, -0.9, label, fontsize=8, color=SHADE, va="bottom")
        _steps(ax, [step for step in run.steps if step.get("lab") == lab.name], origin)
        for exchange in lab.exchanges:
            y = rows[exchange.host]
            begin = exchange.start if exchange.start is not None else exchange.ended
            if begin is None:
                continue
            end = exchange.ended if exchange.ended is not None else begin
            colour = ON_TIME if exchange.ok else FAILED
            bar = ax.barh(y, max(end - begin, 0.01), left=begin - origin, height=0.6, color=colour, edgecolor="white")
            bar.patches[0].set_gid(f"timeline-bar-x{next(_salt)}")
            if exchange.accepted is not None:
                ax.plot([exchange.accepted - origin] * 2, [y - 0.3, y + 0.3], color="black", linewidth=0.8)
        ax.set_yticks(range(len(clients)), [role_of(h) for h in clients], fontsize=8 if len(clients) <= 20 else 6)
        ax.set_ylim(len(clients) - 0.5, -2.6 if run.steps else -1.2)  # room above for the steps' labels
        ax.set_xlabel("seconds since the first exchange began", fontsize=9)
        ax.grid(axis="x", color="0.9")
        ax.set_axisbelow(True)
        ax.set_title(f"{lab.title}: {lab.answered} answered, {lab.failed} failed", fontsize=10, loc="left")
        fig.legend(
            handles=[
                Patch(color=ON_TIME, label="answered (connect to answer)"),
                Patch(color=FAILED, label="failed"),
                Patch(color=SHADE, alpha=0.15, label="a fault was on"),
                *([Patch(color=STEP, label="a scenario's step fired")] if run.steps else []),
            ],
            loc="outside lower center",
            ncols=4 if run.steps else 3,
            fontsize=8,
            frameon=False,
        )
        _save(fig, path)

    return _svg(draw)


def timelines(run: RunView) -> list[str]:
    """Every lab's timeline: the labs of one exchange per client side by side (up to 4 a picture)."""
    labs = [lab for lab in run.labs if lab.exchanges]
    simple = [lab for lab in labs if one_per_client(lab)]
    pictures = [lesson_timeline(simple[k : k + 4], run) for k in range(0, len(simple), 4)]
    pictures += [exchange_rows(lab, run) for lab in labs if not one_per_client(lab)]
    return pictures


def bench_bars(name: str, rows: Sequence[dict[str, Any]]) -> str | None:
    """One bar per measured row (its version or what), the value on the axis; None when nothing is a number."""
    pairs = [
        (str(row.get("version") or row.get("what") or index), float(row["value"]))
        for index, row in enumerate(rows, start=1)
        if isinstance(row.get("value"), int | float)
    ]
    if not pairs:
        return None
    unit = next((str(row.get("unit")) for row in rows if row.get("unit")), "")

    def draw(path: Path) -> None:
        fig = Figure(figsize=(8.0, max(2.0, 0.3 * len(pairs) + 1.2)), layout="constrained")
        ax = fig.subplots()
        labels, values = zip(*pairs, strict=True)
        ax.barh(range(len(pairs)), values, color=[ON_TIME if k % 2 == 0 else LATE for k in range(len(pairs))])
        ax.set_yticks(range(len(pairs)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(unit, fontsize=9)
        ax.set_title(name, fontsize=10, loc="left")
        ax.grid(axis="x", color="0.9")
        ax.set_axisbelow(True)
        _save(fig, path)

    return _svg(draw)
