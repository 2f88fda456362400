"""``rm PATH`` for images without a shell: removes one file and says what it removed."""

from __future__ import annotations

import os
import sys

from probes.events import emit

if __name__ == "__main__":
    os.unlink(sys.argv[1])
    emit("removed", path=sys.argv[1])
