"""The suite's results as a text table (fault × version) and as a PNG (answered/lost and exchange times)."""

from __future__ import annotations

from pathlib import Path

from socklab.faults.suite import Row


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _errors(errors: dict[str, int]) -> str:
    return ", ".join(f"{kind} {count}" for kind, count in sorted(errors.items())) or "-"


def short_server(image: str) -> str:
    """``socklab-test/server:abc123-fork`` -> ``fork``; other images stay as they are."""
    repository, _, tag = image.rpartition(":")
    if repository == "socklab/server":
        return tag
    if repository.startswith("socklab") and repository.endswith("/server") and "-" in tag:
        return tag.split("-", 1)[1]  # a session's tag: <session id>-<version>
    return image


def format_table(rows: list[Row]) -> str:
    header = ("fault", "server", "sent", "answered", "lost", "fault s", "recovery s", "before s", "during s", "errors")
    lines = [
        (
            row.fault,
            short_server(row.server),
            str(row.sent),
            str(row.answered),
            str(row.lost),
            _seconds(row.fault_s),
            _seconds(row.recovery_s),
            _seconds(row.baseline_s),
            _seconds(row.during_s),
            _errors(row.errors) + (f" ({row.note})" if row.note else ""),
        )
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header) - 1)]
    out = []
    for cells in [header, *lines]:
        fixed = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells[:-1], widths, strict=True))]
        out.append("  ".join([*fixed, cells[-1]]))
    total_lost = sum(row.lost for row in rows)
    out.append(f"{sum(row.answered for row in rows)}/{sum(row.sent for row in rows)} answered, {total_lost} lost")
    return "\n".join(out)


def mechanisms(rows: list[Row]) -> list[str]:
    """One line per fault: which mechanism ran."""
    seen: dict[str, str] = {}
    for row in rows:
        seen.setdefault(row.fault, row.mechanism)
    return [f"{fault}: {mechanism}" for fault, mechanism in seen.items()]


def draw_png(rows: list[Row], path: Path) -> Path:
    """Per fault, per version: the median exchange time before and during the fault, and what was lost."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    faults = list(dict.fromkeys(row.fault for row in rows))
    servers = list(dict.fromkeys(row.server for row in rows))
    fig, ax = plt.subplots(figsize=(min(14, 2 + 1.5 * len(faults)), 4.5))
    width = 0.8 / max(1, len(servers))
    for s, server in enumerate(servers):
        xs, before, during, labels = [], [], [], []
        for f, fault in enumerate(faults):
            row = next((r for r in rows if r.fault == fault and r.server == server), None)
            if row is None:
                continue
            xs.append(f + (s - (len(servers) - 1) / 2) * width)
            before.append(row.baseline_s or 0.0)
            during.append(row.during_s or 0.0)
            labels.append(f"{row.answered}/{row.sent}" + (f"\n{row.lost} lost" if row.lost else ""))
        bars = ax.bar(xs, during, width * 0.9, label=f"{short_server(server)} during")
        ax.scatter(xs, before, marker="_", s=200, color="black", zorder=3)
        for x, bar, label in zip(xs, bars, labels, strict=True):
            ax.annotate(label, (x, bar.get_height()), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(faults)), faults)
    ax.set_ylabel("median exchange, connect to answer (s)\n(black: before the fault)")
    ax.set_title("socklab faults: answered/sent per fault and server version")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
