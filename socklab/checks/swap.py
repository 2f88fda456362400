"""Swapping the server version under load: replace the container behind the alias ``server`` while
clients keep connecting, and count what was lost.

First the old server's kernel delivers what it has sent: a connection's answer written and closed, still
being retransmitted (a fault just before backs the timer off for seconds), would die with its namespace.
Then the old server gets SIGTERM (``docker stop``): it stops accepting, answers what it had accepted and
exits; the new one starts under the same alias. Meanwhile each client's connect retry ("refused",
"name not found") bridges the gap. Nothing may be lost: every exchange sent must be answered.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from socklab.lab.lab import Lab
from socklab.lab.sidecar import ToolsUnavailable, run_agent, tools_image
from socklab.lab.topology import SERVER
from socklab.progress import Progress, quiet
from socklab.sidecar.protocol import Drained, WaitDrained
from socklab.wire.config import ClientConfig


@dataclass(frozen=True)
class SwapReport:
    from_image: str
    to_image: str
    sent: int  # exchanges the clients attempted
    answered: int  # exchanges answered with the right byte
    drain_seconds: float  # `docker stop` of the old server: SIGTERM to exit (it answers what it accepted)
    start_seconds: float  # the new server: `docker run` to accepting
    longest_retry: float  # the longest any exchange spent connecting (retrying) — the gap clients saw
    by_old: int = 0  # answers that arrived before the old server had exited
    by_new: int = 0  # answers that arrived after it: the new server's
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return self.sent - self.answered

    @property
    def swap_seconds(self) -> float:
        return self.drain_seconds + self.start_seconds

    def summary(self) -> str:
        return (
            f"{self.from_image} -> {self.to_image}: {self.answered}/{self.sent} answered, {self.lost} lost "
            f"({self.by_old} by the old server, {self.by_new} by the new); "
            f"swap took {self.swap_seconds:.2f} s (old drained in {self.drain_seconds:.2f} s, "
            f"new accepting after {self.start_seconds:.2f} s); longest client retry {self.longest_retry:.2f} s"
        )


@dataclass(frozen=True)
class Swapped:
    """One swap: the old server's exit code, how long it drained, how long the new one took to accept."""

    exit_code: int
    drain_seconds: float
    start_seconds: float
    drained_at: float  # POSIX: when the old server had exited
    ready_at: float  # POSIX: when the new one accepted
    delivered: str = ""  # what its kernel still had to deliver before the stop, said

    def describe(self, image: str) -> str:
        return (
            f"{self.delivered}old server exited {self.exit_code} after draining {self.drain_seconds:.2f} s; "
            f"{image} accepting {self.start_seconds:.2f} s later"
        )


DELIVERY_WAIT = 10.0  # seconds the old server's kernel may take to deliver what it sent (RTO backed off)


def wait_delivered(lab: Lab) -> str:
    """Until no connection of the server's port holds unacknowledged bytes, seen from inside its namespace
    (a one-shot agent of the tools image); what it found, as the start of the swap's line."""
    assert lab.server is not None
    try:
        event = run_agent(
            lab, lab.server, WaitDrained(port=lab.port, timeout=DELIVERY_WAIT), image=tools_image(lab.docker)
        )
    except ToolsUnavailable as exc:
        return f"not waited for the old kernel's delivery ({exc}); "
    if isinstance(event, Drained):
        return f"old kernel delivered all it had sent ({event.waited:.2f} s); " if event.waited >= 0.05 else ""
    return f"old kernel still held unacknowledged bytes after {DELIVERY_WAIT:g} s; "


def swap_server(lab: Lab, to_image: str, *, alias: str = SERVER, progress: Progress = quiet) -> Swapped:
    """Replace the lab's server: once its kernel has delivered what it sent, ``docker stop`` the old one
    (SIGTERM: it drains), then the new one under the same alias (``UPSTREAM`` while the impairment proxy
    holds ``server``), once it accepts."""
    delivered = wait_delivered(lab)
    started = time.monotonic()
    exit_code = lab.stop_server(timeout=15)
    drained, drained_wall = time.monotonic(), time.time()
    progress(f"{delivered}old server exited {exit_code} after {drained - started:.2f} s; starting {to_image}")
    lab.start_server(to_image, role=lab.new_role("server"), alias=alias)
    return Swapped(exit_code, drained - started, time.monotonic() - drained, drained_wall, time.time(), delivered)


def swap_under_load(
    *,
    from_image: str,
    to_image: str,
    client_image: str,
    clients: int = 4,
    exchanges: int = 15,
    delay: float = 0.5,
    progress: Progress = quiet,
) -> SwapReport:
    """Run ``clients`` clients making ``exchanges`` exchanges each; swap the server once they are under way."""
    with Lab(server_image=from_image, client_image=client_image, delay=delay, purpose="swap", progress=progress) as lab:
        load = ClientConfig(repeat=exchanges, interval=0.05, connect_deadline=30).to_env()
        containers = lab.start_clients(clients, env=load)
        # Swap once the old server has answered somebody: the load is really under way.
        containers[0].wait_for_log(r'"outcome": "ok"', timeout=30 + delay * 2)
        progress(f"load under way; stopping {from_image}")
        swapped = swap_server(lab, to_image, progress=progress)
        runs = lab.collect(containers)
    results = [result for run in runs for result in run.results]
    outcomes = Counter(result.outcome for result in results)
    return SwapReport(
        from_image=from_image,
        to_image=to_image,
        sent=clients * exchanges,
        answered=outcomes.get("ok", 0),
        drain_seconds=swapped.drain_seconds,
        start_seconds=swapped.start_seconds,
        longest_retry=max((r.connect_seconds or 0.0 for r in results), default=0.0),
        # The new server often gets the old one's address back, so answers are told apart by time.
        by_old=sum(r.ok and (r.answered_at or 0.0) <= swapped.drained_at for r in results),
        by_new=sum(r.ok and (r.answered_at or 0.0) > swapped.drained_at for r in results),
        outcomes=dict(outcomes),
    )
