"""``order``: many small writes to a reader that reads big — one stream, no boundaries, order kept.

TCP delivers the bytes in order but not the writes: the reader's recv() returns whatever has arrived,
so 1000 writes of 10 bytes come out as a few large reads. UDP keeps each datagram whole: the same 1000
sends arrive as 1000 datagrams of 10 bytes (order and delivery are not promised, but counted).
"""

from __future__ import annotations

import time
from typing import Any

from socklab.experiments.record import Result
from socklab.experiments.stage import Stage
from socklab.progress import Progress, quiet

NAME = "order"
CLAIM = "a stream delivers bytes reliably and in order, as one stream: the writes' boundaries are not kept"
PORT = 9736


def run(*, probes_image: str, writes: int = 1000, size: int = 10, progress: Progress = quiet, **_: Any) -> Result:
    result = Result(NAME, CLAIM)
    started = time.monotonic()
    result.did += [
        f"a client host makes {writes} writes of {size} bytes on one TCP connection (byte i = i % 251), then "
        f"sends {writes} UDP datagrams of {size} bytes (each starting with its number)",
        "the server host lets the TCP bytes pile up for 0.3 s, reads them with recv(65536) until EOF, then "
        "receives the datagrams with the same 65536-byte buffer",
    ]
    with Stage(NAME, probes_image=probes_image, progress=progress) as stage:
        server = stage.start("server", ["probes.order", "serve", "--port", str(PORT)], alias="server")
        stage.wait_for_event(server, "listening")
        stage.start(
            "client", ["probes.order", "send", "--port", str(PORT), "--writes", str(writes), "--size", str(size)]
        )
        tcp = stage.wait_for_event(server, "tcp_done")
        udp = stage.wait_for_event(server, "udp_done")
    result.numbers = {"writes": writes, "size": size, "tcp": tcp, "udp": udp}
    result.observed += [
        f"TCP: {writes} writes of {size} bytes arrived as {tcp['reads']} read(s) (largest {tcp['largest']} "
        f"bytes), {tcp['bytes']} bytes in all, in order: {tcp['in_order']}",
        f"UDP: {writes} sends arrived as {udp['datagrams']} datagrams of {udp['sizes']} bytes, "
        f"in order: {udp['in_order']}, missing: {udp['missing']}",
    ]
    if tcp["bytes"] != writes * size or not tcp["in_order"]:
        result.differences.append("the stream lost or reordered bytes")
    if tcp["reads"] == writes:
        result.differences.append("each write came out as a read of its own")
    if udp["sizes"] != [size]:
        result.differences.append(f"UDP datagrams arrived with sizes {udp['sizes']}")
    result.seconds = time.monotonic() - started
    return result
