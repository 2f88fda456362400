"""``nagle``: write, write, read, many times: Nagle's algorithm meets the delayed ACK, and with TCP_NODELAY.

A client host sends each request in two small writes and reads a one-byte reply, on a default socket
(Nagle on) and on a socket with TCP_NODELAY, each exchange timed. The server host's own socket says how
long its kernel delays an ACK (``tcpi_ato``), its namespace counts the ACKs it delayed (TcpExt
DelayedACKs), and tcpdump beside it shows one exchange of each kind packet by packet.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from socklab.capture.packets import Segment
from socklab.experiments.capture import capture, connection, segments, timed
from socklab.experiments.record import Result
from socklab.experiments.stage import Stage
from socklab.progress import Progress, quiet

NAME = "nagle"
CLAIM = (
    "write-write-read stalls: Nagle's algorithm holds the second small write until the first is acknowledged, "
    "and the receiver delays that ACK (~40 ms), so each exchange waits ~40 ms; with TCP_NODELAY it does not"
)
PORT = 9736
MODES = ("nagle", "nodelay")
# The delayed-ACK timer is at least 40 ms (TCP_DELACK_MIN); an exchange on this bridge without it takes well
# under a millisecond, a few on a loaded machine. Half the timer tells a stall; a quarter, no stall.
STALLED_MS = 20.0
FAST_MS = 10.0
SHOWN = 10  # the exchange drawn packet by packet (past the connection's first, quick-ACKed ones)


def summary(seconds: list[float]) -> dict[str, Any]:
    ms = [s * 1000 for s in seconds]
    return {
        "exchanges": len(ms),
        "median_ms": round(statistics.median(ms), 2),
        "p90_ms": round(sorted(ms)[int(len(ms) * 0.9) - 1], 2),
        "fastest_ms": round(min(ms), 2),
        "stalled": sum(m >= STALLED_MS for m in ms),
        "first_ms": [round(m, 1) for m in ms[:5]],
        "total_s": round(sum(seconds), 3),
    }


def differences(modes: dict[str, dict[str, Any]]) -> list[str]:
    found = []
    nagle, nodelay = modes["nagle"], modes["nodelay"]
    if nagle["median_ms"] < STALLED_MS:
        found.append(f"write-write-read with Nagle did not stall: {nagle['median_ms']:.1f} ms per exchange (median)")
    if nodelay["median_ms"] >= FAST_MS:
        found.append(f"with TCP_NODELAY an exchange still took {nodelay['median_ms']:.1f} ms (median)")
    return found


def one_exchange(found: list[Segment], end: str, index: int) -> list[str]:
    """Exchange ``index`` of the connection from ``end``: from its first request segment to the next one's."""
    mine = connection(found, end)
    starts = [k for k, s in enumerate(mine) if s.src == end and s.payload]
    if len(starts) < 2 * index + 3:
        return []
    return timed(mine[starts[2 * index] : starts[2 * index + 2]], end)


def run(*, probes_image: str, exchanges: int = 40, size: int = 40, progress: Progress = quiet, **_: Any) -> Result:
    result = Result(NAME, CLAIM)
    started = time.monotonic()
    result.did += [
        f"a client host makes {exchanges} exchanges per connection: a {size}-byte request in two writes of "
        f"{size // 2}, then a read of the one-byte reply; once on a default socket (Nagle), once with TCP_NODELAY",
        "the server host reads each whole request, then answers; it reports its socket's delayed-ACK timeout "
        "(TCP_INFO tcpi_ato) and its namespace's DelayedACKs counter; tcpdump beside it",
    ]
    with Stage(NAME, probes_image=probes_image, progress=progress) as stage:
        server = stage.start(
            "server", ["probes.nagle", "serve", "--port", str(PORT), "--size", str(size)], alias="server"
        )
        stage.wait_for_event(server, "listening")
        with capture(stage, server) as dump:
            client = stage.start(
                "client",
                ["probes.nagle", "send", "--port", str(PORT), "--size", str(size), "--exchanges", str(exchanges)],
            )
            stage.wait_for_event(client, "done", timeout=60)
            served = stage.wait_for_events(server, "served", len(MODES))
        ran = {e["mode"]: e for e in stage.events(client, "mode_done")}
    found = segments(dump, PORT)
    shown = min(SHOWN, exchanges - 2)
    modes = {}
    for mode, server_side in zip(MODES, served, strict=True):
        modes[mode] = {
            **summary(ran[mode]["seconds"]),
            "server_ato_ms": server_side["ato_us"] / 1000,
            "server_delayed_acks": server_side["delayed_acks"],
            "rtt_ms": (ran[mode]["rtt_us"] or 0) / 1000,
            "exchange_on_the_wire": one_exchange(found, ran[mode]["local"], shown),
        }
    result.numbers = {"exchanges": exchanges, "request_bytes": size, "shown_exchange": shown, "modes": modes}
    result.observed += _describe(modes, shown)
    result.differences += differences(modes)
    result.seconds = time.monotonic() - started
    return result


def _describe(modes: dict[str, dict[str, Any]], shown: int) -> list[str]:
    lines = [
        f"{'':<8} {'median':>8} {'p90':>8} {'stalled':>8} {'first five (ms)':<28} server: delayed ACKs, ACK timeout"
    ]
    for mode, m in modes.items():
        first = ", ".join(f"{x:.1f}" for x in m["first_ms"])
        lines.append(
            f"{mode:<8} {m['median_ms']:>6.2f}ms {m['p90_ms']:>6.2f}ms {m['stalled']:>4}/{m['exchanges']:<3} "
            f"{first:<28} {m['server_delayed_acks']}, {m['server_ato_ms']:g} ms"
        )
    nagle = modes["nagle"]
    quick = next((k for k, ms in enumerate(nagle["first_ms"]) if ms >= STALLED_MS), len(nagle["first_ms"]))
    if quick and nagle["median_ms"] >= STALLED_MS:
        lines.append(
            f"with Nagle the first {quick} exchange(s) did not stall: at a connection's start Linux acknowledges at "
            "once (quick-ack mode); once the server has answered within its ACK timeout the connection counts as "
            "interactive (pingpong) and its ACKs wait"
        )
    for mode, m in modes.items():
        lines.append(f"exchange {shown} with {mode}, on the server's interface (→ from the client):")
        lines += [f"  {step}" for step in m["exchange_on_the_wire"]]
    return lines
