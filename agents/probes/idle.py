"""A host that does nothing: it holds its namespaces for programs run beside it, until SIGTERM."""

from __future__ import annotations

import signal
import sys

from probes.events import emit

if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda _s, _f: sys.exit(0))
    emit("idle")
    while True:
        signal.pause()
