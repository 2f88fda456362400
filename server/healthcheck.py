"""The image's HEALTHCHECK: healthy when the server accepts a connection on its port.

The image has no shell, so the check is Python. It connects to loopback and closes without sending;
the server does not log such probes (see ``log_probes``).
"""

from __future__ import annotations

import os
import socket
import sys


def main() -> int:
    port = int(os.environ.get("SOCKLAB_PORT", "9736"))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return 0
    except OSError as exc:
        print(f"unhealthy: cannot connect to 127.0.0.1:{port}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
