"""The one-byte exchange over a pair of FIFOs (named pipes) between two processes on one host.

A FIFO carries one direction, so the exchange needs two: ``request`` (client → server) and ``reply``
(server → client). The child plays the server: it reads one byte, waits ``--delay``, writes the byte plus
one and closes. The parent plays the client and times its blocking read, then reads again to see EOF.
It also tries the socket habit of writing on the descriptor it reads from.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import os
import stat
import tempfile
import time
from typing import Any

from probes.events import emit

F_GETPIPE_SZ = 1032  # fcntl.F_GETPIPE_SZ (Linux); named here for Pythons that lack the constant


def server(request: str, reply: str, delay: float) -> None:
    # Opening a FIFO blocks until the other end is opened too: both ends first, in the client's order.
    with open(request, "rb", buffering=0) as inbound, open(reply, "wb", buffering=0) as outbound:
        data = inbound.read(1)
        time.sleep(delay)
        outbound.write(bytes([(data[0] + 1) % 256]))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m probes.fifo")
    parser.add_argument("--delay", type=float, default=1.0)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="fifo-")
    request, reply = os.path.join(folder, "request"), os.path.join(folder, "reply")
    os.mkfifo(request)
    os.mkfifo(reply)
    pid = os.fork()
    if pid == 0:
        server(request, reply, args.delay)
        os._exit(0)

    facts: dict[str, Any] = {"request": request, "mode": stat.filemode(os.stat(request).st_mode)}
    out = os.open(request, os.O_WRONLY)  # blocks until the server opens the other end
    facts["capacity"] = fcntl.fcntl(out, F_GETPIPE_SZ)
    try:
        os.read(out, 1)
        facts["read_on_write_end"] = "allowed"
    except OSError as exc:
        facts["read_on_write_end"] = errno.errorcode.get(exc.errno or 0, str(exc.errno))
    inbound = os.open(reply, os.O_RDONLY)
    os.write(out, b"A")
    called = time.time()
    answer = os.read(inbound, 1)  # blocks until the server writes
    returned = time.time()
    eof = os.read(inbound, 1) == b""  # the writer closed: end of file, as on a socket
    os.close(inbound)
    os.close(out)
    os.waitpid(pid, 0)
    emit(
        "done",
        **facts,
        answer=answer.decode(errors="replace"),
        read_blocked_seconds=round(returned - called, 3),
        eof_after_close=eof,
        descriptors=2,
        delay=args.delay,
    )


if __name__ == "__main__":
    main()
