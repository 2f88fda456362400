"""Pictures of what the experiments saw: client timelines, and counts side by side. PNG via matplotlib."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display here
import matplotlib.pyplot as plt

COLOURS = {"ok": "tab:green", "reset": "tab:red", "refused": "tab:red", "timeout": "tab:orange"}


@dataclass(frozen=True)
class ClientBar:
    label: str
    started: float  # seconds from the experiment's zero
    connected: float | None  # None: connect() never completed
    ended: float
    outcome: str


def draw_client_timelines(panels: dict[str, tuple[list[ClientBar], float | None]], path: Path, *, title: str) -> Path:
    """One panel per variant: per client a thin bar while in connect(), a thick one until the answer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(
        len(panels), 1, sharex=True, figsize=(9, 1.2 + 0.32 * sum(len(b) for b, _ in panels.values()))
    )
    axes = [axes] if len(panels) == 1 else list(axes)
    for ax, (name, (bars, marker)) in zip(axes, panels.items(), strict=True):
        for row, bar in enumerate(bars):
            colour = COLOURS.get(bar.outcome, "tab:gray")
            waited = (bar.connected if bar.connected is not None else bar.ended) - bar.started
            ax.barh(row, waited, left=bar.started, height=0.25, color="lightgray")
            if bar.connected is not None:
                ax.barh(row, max(bar.ended - bar.connected, 0.02), left=bar.connected, height=0.7, color=colour)
            if bar.outcome != "ok":
                ax.text(bar.ended, row, f" {bar.outcome}", va="center", fontsize=7, color=colour)
        if marker is not None:
            ax.axvline(marker, color="black", linestyle="--", linewidth=1)
            ax.text(marker, len(bars) - 0.4, " accept() resumes", fontsize=7)
        ax.set_yticks(range(len(bars)), [b.label for b in bars], fontsize=7)
        ax.invert_yaxis()
        ax.set_title(name, fontsize=9, loc="left")
    axes[-1].set_xlabel("seconds (grey: inside connect(); colour: connected, until the answer)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw_counts(groups: dict[str, dict[str, int]], path: Path, *, title: str, ylabel: str) -> Path:
    """Bars side by side: for each group (e.g. TCP, UDP) its counts (e.g. answered, lost, retransmitted)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    names = sorted({k for counts in groups.values() for k in counts}, key=list(next(iter(groups.values()))).index)
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        xs = [g + i * width for g in range(len(groups))]
        values = [counts.get(name, 0) for counts in groups.values()]
        bars = ax.bar(xs, values, width, label=name)
        ax.bar_label(bars, fontsize=8)
    ax.set_xticks([g + width * (len(names) - 1) / 2 for g in range(len(groups))], list(groups))
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw_windows(
    runs: dict[str, dict[str, dict[str, Any]]], path: Path, *, levels: Sequence[int], writing: float
) -> Path:
    """One panel per loss level: each sender's congestion window over time, its retransmissions as ticks;
    a dashed line where the writing stopped (what follows is the queue draining)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(len(levels), 1, sharex=True, figsize=(9, 2.1 * len(levels)))
    axes = [axes] if len(levels) == 1 else list(axes)
    colours = ("tab:blue", "tab:orange", "tab:green", "tab:red")
    for ax, level in zip(axes, levels, strict=True):
        rates = []
        for colour, transfers in zip(colours, runs.values(), strict=False):
            run = transfers[str(level)]
            times, windows = zip(*run["cwnd_series"], strict=True) if run["cwnd_series"] else ((), ())
            ax.step(times, windows, where="post", color=colour, linewidth=1, label=run["algorithm"])
            top = max(windows, default=1)
            ticks = run["retransmission_times"]
            ax.plot(ticks, [top * 1.04] * len(ticks), "|", color=colour, markersize=5)
            rates.append(f"{run['algorithm']} {run['mbit_per_s']:.1f} Mbit/s, {run['retransmitted']} retransmitted")
        ax.axvline(writing, color="black", linestyle="--", linewidth=0.8)
        ax.set_ylabel("cwnd (segments)", fontsize=8)
        ax.set_title(f"{level} % loss: " + "; ".join(rates), fontsize=9, loc="left")
        ax.set_ylim(bottom=0)
    axes[0].legend(fontsize=8, loc="upper right")
    axes[-1].set_xlabel("seconds since the first write (ticks: a segment sent again)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
