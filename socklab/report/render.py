"""The report as one HTML file: the template (``report.html.j2``) filled from a ``RunView``, pictures inline.

The file holds everything it shows (CSS, SVG), no script and no URL: it opens offline, prints, and every
section has an id the table of contents links to.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jinja2

from socklab.events.schema import Event, parse_log
from socklab.report import kernel_plots, plots
from socklab.report.kernel import KernelView, summary_rows
from socklab.report.model import RunView, clock, natural, read_run, role_of

TEMPLATE = "report.html.j2"
MAX_ROWS = 400  # exchanges and packets listed in full up to this many; beyond, the first ones and a note


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("socklab.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.ChainableUndefined,  # a log may lack a field: a reader ignores what is missing
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clock"] = clock
    env.filters["role"] = role_of
    env.filters["seconds"] = lambda v, digits=3: "-" if v is None else f"{v:.{digits}f}"
    env.filters["char"] = lambda v: "-" if v is None else (repr(chr(v)) if 32 <= v < 127 else f"0x{v:02x}")
    env.filters["compact"] = lambda v: json.dumps(v, default=str, separators=(", ", ": "))[:300]
    return env


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    """The columns of a measurement table: every key the rows have, in first-seen order, minus the time."""
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key not in ("t", "step"):
                seen.setdefault(key, None)
    return list(seen)


def _shown(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def kernel_context(kernel: KernelView) -> dict[str, Any]:
    """The three kernel views: sockets, packets (a few ladders, a row per connection), system calls."""
    listeners = [t for tracks in kernel.sockets.values() for t in tracks.values() if t.listener]
    ladders = kernel_plots.chosen_connections(kernel)
    return {
        "sockets_picture": kernel_plots.sockets_picture(kernel) if kernel.sockets else None,
        "listeners": [
            {
                "host": t.host,
                "local": t.local,
                "backlog": t.backlog,
                "holds": t.holds,
                "longest": t.longest,
                "full": t.full_seconds(kernel.end),
            }
            for t in listeners
        ],
        "ladders": [(kernel.name(c.client), kernel_plots.ladder_picture(kernel, c)) for c in ladders],
        "rungs": [
            (kernel.name(c.client), r, r.sent(kernel.names) - c.ordered(kernel.names)[0].sent(kernel.names))
            for c in ladders[:1]
            for r in c.ordered(kernel.names)[:MAX_ROWS]
        ],
        "connections": summary_rows(kernel)[:MAX_ROWS],
        "more_connections": max(0, len(kernel.connections) - MAX_ROWS),
        "lanes": [(host, kernel_plots.lanes_picture(kernel, host)) for host in sorted(kernel.lanes)],
        "late_tracers": [
            (host, lane.pid) for host, lanes in kernel.lanes.items() for lane in lanes.values() if lane.late
        ],
    }


def render(run: RunView) -> str:
    """The report's HTML for one run."""
    bench = [
        {"name": name, "columns": _columns(rows), "rows": rows, "plot": plots.bench_bars(name, rows)}
        for name, rows in run.measurements.items()
    ]
    context = {
        "run": run,
        "args": [(k, _shown(v)) for k, v in run.args.items() if v not in (None, "", False) and v != [] and v != ()],
        "hosts": sorted(
            run.hosts.items(), key=lambda item: (not role_of(item[0]).startswith("server"), natural(item[0]))
        ),
        "timelines": plots.timelines(run),
        "exchanges": run.exchanges[:MAX_ROWS],
        "more_exchanges": max(0, len(run.exchanges) - MAX_ROWS),
        **kernel_context(run.kernel),
        "bench": bench,
        "lost_columns": ["fault", "server", "sent", "answered", "lost", "errors", "recovery_s", "fault_s", "note"],
    }
    return _environment().get_template(TEMPLATE).render(**context)


def write_report(events: Iterable[Event], path: str | Path) -> Path:
    """Write the report of ``events`` to ``path`` (its folder is made); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(read_run(events)), encoding="utf-8")
    return path


def report_from_log(log: str | Path, path: str | Path) -> Path:
    """``socklab report EVENTS.jsonl -o FILE.html``: a saved log replayed into its report."""
    return write_report(parse_log(Path(log).read_text(encoding="utf-8")), path)
