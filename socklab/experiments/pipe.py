"""``pipe``: "a stream socket is much like a named pipe" — the same exchange both ways, side by side.

Over a FIFO pair, two processes in one container; over TCP, two containers (two hosts). Compared: is it
a byte stream, does the reader block until the answer, is the writer's close an EOF (the same); how many
descriptors and directions, and whether it can leave the machine (not the same).
"""

from __future__ import annotations

import time
from typing import Any

from socklab.experiments.record import Result, seconds_between
from socklab.experiments.stage import Stage
from socklab.progress import Progress, quiet

NAME = "pipe"
CLAIM = "a stream socket is much like a named pipe"
PORT = 9736


def run(*, probes_image: str, delay: float = 1.0, progress: Progress = quiet, **_: Any) -> Result:
    result = Result(NAME, CLAIM)
    started = time.monotonic()
    result.did += [
        f"one host: mkfifo request + reply; a child reads 'A' from request, waits {delay:g} s, writes 'B' to "
        "reply and closes; the parent times its read of reply, reads again for EOF, and tries to read from the "
        "FIFO end it opened for writing",
        f"two hosts: the same exchange over TCP (server waits {delay:g} s); the client times its read and reads "
        "again for EOF",
    ]
    with Stage(NAME, probes_image=probes_image, progress=progress) as stage:
        fifo_host = stage.start("fifo", ["probes.fifo", "--delay", str(delay)])
        server = stage.start("server", ["probes.server", "--port", str(PORT), "--delay", str(delay)], alias="server")
        stage.wait_for_event(server, "listening")
        client = stage.start("client", ["probes.client", "--server", "server", "--sequential", "--timeout", "0"])
        fifo = stage.wait_for_event(fifo_host, "done", timeout=delay + 30)
        done = stage.wait_for_event(client, "done", timeout=delay + 30)
        read_called = stage.events(client, "read_called")[0]["at"]
        server_address = server.address()
    record = done["clients"][0]
    client_address = str(record.get("address", "?")).rpartition(":")[0]
    tcp = {
        "answer": record.get("received"),
        "read_blocked_seconds": seconds_between(read_called, record["answered_at"]),
        "eof_after_close": record.get("eof_after_answer"),
        "descriptors": 1,
        "client": client_address,
        "server": server_address,
    }
    result.numbers = {"delay": delay, "fifo": fifo, "tcp": tcp}
    rows = [
        ("answer to 'A'", repr(fifo["answer"]), repr(tcp["answer"])),
        ("reader blocked (s)", f"{fifo['read_blocked_seconds']:.2f}", f"{tcp['read_blocked_seconds']:.2f}"),
        ("EOF after the writer closed", str(fifo["eof_after_close"]), str(tcp["eof_after_close"])),
        ("descriptors for the exchange", f"{fifo['descriptors']} (one per direction)", "1 (both directions)"),
        ("read on the end opened to write", fifo["read_on_write_end"], "allowed (a socket is two-way)"),
        ("named by", f"a file: {fifo['mode']} .../request", f"an address, {server_address}:{PORT}"),
        ("between", "processes of one kernel", f"two hosts, {client_address} -> {server_address}"),
        ("buffer", f"{fifo['capacity']} bytes (F_GETPIPE_SZ)", "send + receive buffers, per direction"),
    ]
    result.observed += [f"{'':<32} {'FIFO pair':<34} TCP socket"]
    result.observed += [f"{what:<32} {left:<34} {right}" for what, left, right in rows]
    same = fifo["answer"] == tcp["answer"] == "B" and fifo["eof_after_close"] and tcp["eof_after_close"]
    blocked = min(fifo["read_blocked_seconds"], tcp["read_blocked_seconds"] or 0) >= delay * 0.9
    result.observed.append(
        "the same: a byte stream, a read that blocks until the answer, EOF when the writer closes"
        if same and blocked
        else "NOT the same in the exchange itself (see the rows above)"
    )
    result.observed.append("not the same: a FIFO end goes one way and stays on one machine; a socket goes both")
    if not (same and blocked):
        result.differences.append("the exchange itself behaved differently over the FIFO pair and the socket")
    result.seconds = time.monotonic() - started
    return result
