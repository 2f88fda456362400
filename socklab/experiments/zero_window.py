"""``zero-window``: a reader that stops reading, a writer that keeps writing; TCP's flow control.

The server host accepts a connection and reads nothing; the client host writes without blocking until
its kernel takes no more. What fills: the reader's receive buffer (its unread bytes, SIOCINQ), the window
it advertises (0), the writer's send queue (SIOCOUTQ), and what the writer's kernel does meanwhile: window
probes (TcpExt TCPWinProbe; on the wire, an empty ACK one byte behind, answered with window 0), further
apart each time. Then the reader reads again: the window opens and every byte arrives, in order.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from socklab.capture.packets import Segment
from socklab.experiments.capture import capture, connection, segments
from socklab.experiments.record import Result
from socklab.experiments.stage import Stage
from socklab.progress import Progress, quiet

NAME = "zero-window"
CLAIM = (
    "a receiver that stops reading closes its window: the sender's queue fills (send() blocks) and the sender "
    "sends window probes until the window opens again; no byte is lost"
)
PORT = 9736
# The persist timer starts at the retransmission timeout (at least 200 ms) and doubles: 0.2 + 0.4 + 0.8 s
# have passed before the third probe, so a hold of 3 s sees at least 3 whatever the machine's load.
MIN_PROBES = 2


def wire(found: list[Segment], sender: str, since: float) -> dict[str, Any]:
    """The connection after the sender's queue filled: zero windows advertised, probes and their spacing."""
    mine = [s for s in connection(found, sender) if s.at >= since]
    probes = [s.at for s in mine if s.src == sender and s.probe]
    zero = [s for s in mine if s.src != sender and s.window == 0 and "RST" not in s.flags]
    reopened = next((s.at for s in mine if s.src != sender and s.window and probes and s.at > probes[-1]), None)
    return {
        "zero_window_acks": len(zero),
        "probes": len(probes),
        "probe_gaps_s": [round(b - a, 3) for a, b in itertools.pairwise(probes)],
        "first_probe_after_s": round(probes[0] - zero[0].at, 3) if probes and zero else None,
        "reopened_after_last_probe_s": round(reopened - probes[-1], 3) if reopened and probes else None,
    }


def differences(n: dict[str, Any]) -> list[str]:
    found = []
    sender, reader, on_wire = n["sender"], n["reader"], n["wire"]
    if sender["peer_window_when_full"] != 0 and on_wire["zero_window_acks"] == 0:
        found.append("the reader's window never closed")
    if sender["queued_when_full"] <= 0:
        found.append("the sender's queue never filled")
    probes = min(sender["window_probes"], on_wire["probes"])
    if probes < MIN_PROBES:
        found.append(f"{probes} window probe(s) in {n['hold_seconds']:g} s with the window closed")
    if reader["received"] != sender["written"] or not reader["intact"]:
        found.append(f"{reader['received']} of {sender['written']} bytes arrived (intact: {reader['intact']})")
    return found


def run(*, probes_image: str, hold: float = 3.0, progress: Progress = quiet, **_: Any) -> Result:
    result = Result(NAME, CLAIM)
    started = time.monotonic()
    result.did += [
        "a server host accepts one connection and does not read; a client host writes to it (non-blocking) "
        "until its kernel has taken nothing for 0.5 s",
        f"for {hold:g} s both ends sample their own socket: the reader its unread bytes (SIOCINQ) and the "
        "window it advertises, the writer the peer's window, its unacknowledged bytes (SIOCOUTQ) and its "
        "probes' backoff (TCP_INFO); tcpdump on the reader's interface",
        "then the reader reads everything until EOF and checks every byte; the writer waits until all it wrote "
        "is acknowledged, and closes",
    ]
    with Stage(NAME, probes_image=probes_image, progress=progress) as stage:
        reader = stage.start("server", ["probes.window", "serve", "--port", str(PORT)], alias="server")
        stage.wait_for_event(reader, "listening")
        with capture(stage, reader) as dump:
            writer = stage.start("client", ["probes.window", "send", "--port", str(PORT), "--watch", str(hold + 30)])
            blocked = stage.wait_for_event(writer, "blocked", timeout=30)
            time.sleep(max(0.0, blocked["at"] + hold - time.time()))  # the reader holds off for `hold` seconds
            reader.signal("SIGUSR1")
            read = stage.wait_for_event(reader, "done", timeout=60)
            written = stage.wait_for_event(writer, "done", timeout=60)
            resumed = stage.wait_for_event(reader, "resumed")
            accepted = stage.wait_for_event(reader, "accepted")
    held = [s for s in written["samples"] if s["at"] < resumed["at"]]
    result.numbers = {
        "hold_seconds": hold,
        "sender": {
            "written": written["sent"],
            "queued_when_full": blocked["unacked_out"],
            "peer_window_when_full": blocked["snd_wnd"],
            "window_probes": written["counters"]["TCPWinProbe"],
            "max_backoff": max((s["backoff"] for s in held), default=0),
            "drained": written["drained"],
        },
        "reader": {
            "rcvbuf": accepted["rcvbuf"],
            "unread_when_resumed": resumed["unread"],
            "smallest_window_advertised": min((s["rcv_wnd"] for s in read["samples"]), default=None),
            "zero_window_advertised": read["counters"]["TCPToZeroWindowAdv"],
            "received": read["received"],
            "intact": read["intact"],
        },
        "wire": wire(segments(dump, PORT), blocked["local"], blocked["at"] - 1.0),
    }
    result.observed += _describe(result.numbers)
    result.differences += differences(result.numbers)
    result.seconds = time.monotonic() - started
    return result


def _describe(n: dict[str, Any]) -> list[str]:
    sender, reader, on_wire = n["sender"], n["reader"], n["wire"]
    gaps = ", ".join(f"{g:.2f}" for g in on_wire["probe_gaps_s"]) or "-"
    return [
        f"the reader's receive buffer: {reader['unread_when_resumed']} bytes received and unread (SIOCINQ; "
        f"SO_RCVBUF {reader['rcvbuf']}); the window it advertised fell to {reader['smallest_window_advertised']} "
        f"(TCP_INFO tcpi_rcv_wnd); it went to zero {reader['zero_window_advertised']} time(s) "
        "(TcpExt TCPToZeroWindowAdv)",
        f"the writer's kernel took {sender['written']} bytes before send() would block; "
        f"{sender['queued_when_full']} of them were still in its send queue, unacknowledged (SIOCOUTQ), and "
        f"the peer's window was {sender['peer_window_when_full']} (tcpi_snd_wnd)",
        f"window probes in {n['hold_seconds']:g} s: {sender['window_probes']} (TcpExt TCPWinProbe), backoff up "
        f"to {sender['max_backoff']} doublings (tcpi_backoff); on the wire {on_wire['probes']} probes, each "
        f"answered with window 0 ({on_wire['zero_window_acks']} zero-window ACKs in all), {gaps} s apart; "
        f"the first {on_wire['first_probe_after_s']} s after the window closed",
        f"once the reader read again: {reader['received']} bytes arrived, intact: {reader['intact']}; every "
        f"byte acknowledged: {sender['drained']}",
    ]
