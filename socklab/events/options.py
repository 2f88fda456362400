"""The options every recorded command has: ``--events FILE``, ``--report FILE.html`` and ``--kernel`` (a dataclass
mixin)."""

from __future__ import annotations

from dataclasses import dataclass

from socklab.view.options import LiveViewOptions
from socklab.wire.knobs import option


@dataclass(frozen=True)
class RecordOptions(LiveViewOptions):
    """What every recorded command adds to its own options (and ``--view``, the live view of the run)."""

    events: str = option("", "keep the run's event log in FILE: one JSON line per event, as it happens", metavar="FILE")
    report: str = option("", "write a self-contained HTML report of the run (opens offline)", metavar="FILE.html")
    kernel: bool = option(
        False,
        "also record the kernel's view: every socket's state and every packet of each host, and the server's "
        "system calls (strace) (socket, packet and syscall events; with --events, --report or --view)",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.report and not self.report.lower().endswith((".html", ".htm")):
            raise ValueError(f"--report {self.report!r}: name an .html file")
        if self.kernel and not (self.events or self.report or self.view):
            raise ValueError("--kernel records events: say where they go (--events FILE, --report FILE.html or --view)")
