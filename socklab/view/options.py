"""``--view`` on every recorded command (``socklab run``, ``demo``, ``faults``…): a dataclass mixin, no imports
of the web stack, so that building a command's options stays cheap."""

from __future__ import annotations

import math
from dataclasses import dataclass

from socklab.wire.knobs import option

DEFAULT_PORT = 9737  # socklab.view.server.DEFAULT_PORT: next to the lab's 9736


@dataclass(frozen=True)
class LiveViewOptions:
    view: bool = option(False, "serve a live web view of the run on 127.0.0.1 (the URL is printed)")
    view_port: int = option(DEFAULT_PORT, "the view's port (0: a free one)", metavar="PORT")
    view_linger: float = option(
        -1.0, "after the run, keep the view up this many seconds (negative: until Ctrl-C)", metavar="SECONDS"
    )

    def __post_init__(self) -> None:
        if not 0 <= self.view_port <= 65535:
            raise ValueError(f"--view-port {self.view_port} must be a port number (0: a free one)")
        if math.isnan(self.view_linger):
            raise ValueError("--view-linger must be a number of seconds")
