"""One JSON line per event, flushed at once: the host reads them from the container's log as they come."""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, "at": time.time(), **fields}), flush=True)
    sys.stdout.flush()
