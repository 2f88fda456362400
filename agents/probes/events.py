"""One JSON line per event: the host reads them from the container's log as they come."""

from __future__ import annotations

import json
import os
import time
from typing import Any


def emit(event: str, **fields: Any) -> None:
    # One write() per line: a forked child and its parent share stdout, and print() may split a line
    # into two writes, which would interleave. A pipe keeps writes up to 4 kB whole.
    data = (json.dumps({"event": event, "at": time.time(), **fields}) + "\n").encode()
    while data:
        data = data[os.write(1, data) :]
