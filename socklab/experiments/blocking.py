"""``blocking``: accept() blocks until a client comes; read() blocks until the answer.

Shown twice: by the timestamps the two programs print around each call, and by the kernel itself — the
process state (``S``: sleeping, not running) and the wait channel (the kernel function it sleeps in) from
``/proc/<pid>/stat`` and ``/proc/<pid>/wchan``, sampled inside each container while it waits.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from socklab.experiments.record import Result, seconds_between
from socklab.experiments.stage import Stage
from socklab.progress import Progress, quiet

NAME = "blocking"
CLAIM = "accept() blocks until a client connects; read() blocks until data arrives"
PORT = 9736
SAMPLES = ["--samples", "5", "--interval", "0.1"]


def _summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The most common (state, wait channel) while sampled, and how many samples showed it."""
    (state, wchan), seen = Counter((s["state"], s["wchan"]) for s in samples).most_common(1)[0]
    return {"state": state, "wchan": wchan, "samples": len(samples), "agreeing": seen, "comm": samples[0]["comm"]}


def run(*, probes_image: str, delay: float = 2.0, progress: Progress = quiet, **_: Any) -> Result:
    result = Result(NAME, CLAIM)
    started = time.monotonic()
    result.did += [
        f"a server host calls accept() (blocking socket); it answers each byte + 1 after {delay:g} s",
        "while nobody connects, /proc/<pid>/stat and /proc/<pid>/wchan of the server are sampled 5 times",
        "a client host connects, sends 'A' and calls recv() (blocking socket, no timeout); its process is "
        "sampled the same way while it waits for the answer",
    ]
    with Stage(NAME, probes_image=probes_image, progress=progress) as stage:
        server = stage.start("server", ["probes.server", "--port", str(PORT), "--delay", str(delay)], alias="server")
        server_pid = str(stage.wait_for_event(server, "listening")["pid"])
        stage.wait_for_event(server, "accept_called")
        in_accept = _summary(stage.kernel(server, "process", server_pid, *SAMPLES))
        client = stage.start(
            "client", ["probes.client", "--server", "server", "--port", str(PORT), "--timeout", "0", "--sequential"]
        )
        stage.wait_for_event(client, "read_called")
        in_read = _summary(stage.kernel(client, "process", "1", *SAMPLES))
        server_waiting = _summary(stage.kernel(server, "process", server_pid, "--samples", "1"))
        stage.wait_for_event(client, "done", timeout=delay + 30)
        server_events = {e["event"]: e["at"] for e in reversed(stage.events(server))}
        client_events = {e["event"]: e["at"] for e in reversed(stage.events(client))}

    accept_wait = seconds_between(server_events["accept_called"], server_events["accepted"])
    read_wait = seconds_between(client_events["read_called"], client_events["read_returned"])
    result.numbers = {
        "delay": delay,
        "accept": {**in_accept, "blocked_seconds": accept_wait},
        "client_read": {**in_read, "blocked_seconds": read_wait},
        "server_while_client_reads": server_waiting,
        "connected_to_accepted_seconds": seconds_between(client_events["connected"], server_events["accepted"]),
    }
    result.observed += [
        f"server in accept(): state {in_accept['state']} (sleeping) in {in_accept['agreeing']}/"
        f"{in_accept['samples']} samples, wait channel {in_accept['wchan']!r}; accept() returned "
        f"{accept_wait:.2f} s after it was called, when the client connected",
        f"client in recv(): state {in_read['state']} in {in_read['agreeing']}/{in_read['samples']} samples, "
        f"wait channel {in_read['wchan']!r}; recv() returned after {read_wait:.2f} s (the server's delay "
        f"{delay:g} s)",
        f"meanwhile the server (its one process serves inline) was in state {server_waiting['state']}, "
        f"wait channel {server_waiting['wchan']!r}: sleeping out the delay, using no CPU either",
    ]
    if in_accept["state"] != "S" or in_read["state"] != "S":
        result.differences.append("a waiting process was not asleep in the kernel")
    if read_wait is None or read_wait < delay * 0.9:
        result.differences.append(f"recv() returned after {read_wait} s, before the answer could come")
    result.seconds = time.monotonic() - started
    return result
