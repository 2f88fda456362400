"""The kernel's streams of a run (``--kernel``: ``socket``, ``packet``, ``syscall`` events) put in order for
the report, as the live page puts them (socklab/view/static/kernel-*.js): pure, from the events alone.

- each socket's states in time, and a listener's accept queue against its backlog (Linux holds backlog + 1);
- each connection's segments, a segment captured at both ends being one rung (sent at the sender's capture,
  arrived at the receiver's), retransmissions marked;
- each server process as a lane of calls (start, how long it blocked), a lane opened where fork returned.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from socklab.capture.packets import Segment, flag_letters, flag_names
from socklab.events.schema import Event, Kind

FORKS = re.compile(r"^(fork|vfork|clone|clone3)$")
WAITS = re.compile(r"^(epoll_wait|epoll_pwait|epoll_pwait2|select|pselect6|poll|ppoll)$")
KEPT_RUNGS = 2000  # per connection
MATCH_WITHIN = 2.0  # seconds within which a segment captured at the other end is the same one


def ip_of(endpoint: str | None) -> str:
    return str(endpoint or "").rpartition(":")[0].strip("[]") or str(endpoint or "")


@dataclass
class SocketTrack:
    host: str
    key: str
    local: str
    peer: str | None
    states: list[tuple[float, str]] = field(default_factory=list)  # (since, state); GONE at the end when seen
    queue: list[tuple[float, int]] = field(default_factory=list)  # a listener's accept queue length in time
    backlog: int | None = None

    @property
    def listener(self) -> bool:
        return any(state == "LISTEN" for _, state in self.states)

    @property
    def holds(self) -> int | None:
        """How many connections the accept queue holds: backlog + 1 (Linux's sk_acceptq_is_full)."""
        return None if self.backlog is None else self.backlog + 1

    @property
    def longest(self) -> int:
        return max((length for _, length in self.queue), default=0)

    def full_seconds(self, end: float) -> float:
        """How long the queue held all it can (length > backlog)."""
        if self.backlog is None:
            return 0.0
        points = [*self.queue, (end, 0)]
        return sum(b[0] - a[0] for a, b in itertools.pairwise(points) if a[1] > self.backlog)


@dataclass
class Rung:
    src: str
    dst: str
    flags: str
    seq: int
    ack: int
    length: int
    label: str
    payload: bytes
    again: bool
    at: dict[str, float]  # capture host -> time

    def sent(self, names: dict[str, str]) -> float:
        mine = self.at.get(names.get(ip_of(self.src), ""))
        return mine if mine is not None else min(self.at.values())


@dataclass
class Connection:
    id: str
    client: str | None = None  # the end that sent the first SYN
    server: str | None = None
    rungs: list[Rung] = field(default_factory=list)
    dropped: int = 0
    index: dict[tuple[Any, ...], list[Rung]] = field(default_factory=dict, repr=False)  # seen at one end so far

    def ordered(self, names: dict[str, str]) -> list[Rung]:
        return sorted(self.rungs, key=lambda r: r.sent(names))

    @property
    def retransmissions(self) -> int:
        return sum(r.again for r in self.rungs)

    def segments(self, names: dict[str, str]) -> list[Segment]:
        """As ``socklab trace``'s diagram draws them: time since the connection's first segment."""
        rungs = self.ordered(names)
        first = rungs[0].sent(names) if rungs else 0.0
        return [
            Segment(
                round(r.sent(names) - first, 6), r.src, r.dst, flag_names(r.flags), r.seq, r.ack, r.payload, r.again
            )
            for r in rungs
        ]


@dataclass
class Call:
    call: str
    t: float
    seconds: float | None
    args: str
    result: str | None
    for_accept: bool = False  # a wait (pselect6, epoll_wait) that returned as accept was called: accept's wait


@dataclass
class Lane:
    pid: int
    born: float
    parent: int | None = None
    forked: float | None = None  # where the fork that made it returned
    attached: tuple[float, bool] | None = None  # (when, from its start)
    exited: float | None = None
    calls: list[Call] = field(default_factory=list)
    last_wait: Call | None = field(default=None, repr=False)
    index: dict[tuple[str, float], int] = field(default_factory=dict, repr=False)  # (call, t) -> its place

    @property
    def late(self) -> bool:
        return self.attached is not None and not self.attached[1]


@dataclass
class KernelView:
    names: dict[str, str] = field(default_factory=dict)  # an IP -> its host
    sockets: dict[str, dict[str, SocketTrack]] = field(default_factory=dict)  # host -> key -> track
    connections: dict[str, Connection] = field(default_factory=dict)
    lanes: dict[str, dict[int, Lane]] = field(default_factory=dict)  # host -> pid -> lane
    syn_again: dict[str, int] = field(default_factory=dict)  # a client's ip:port -> retransmitted SYNs
    end: float = 0.0

    @property
    def empty(self) -> bool:
        return not (self.sockets or self.connections or self.lanes)

    def name(self, endpoint: str | None) -> str:
        return self.names.get(ip_of(endpoint), str(endpoint or "?"))


def read_kernel(events: Iterable[Event], names: dict[str, str] | None = None) -> KernelView:
    """The kernel's streams of ``events`` (in time order); ``names``: IPs already known (from ``host`` events)."""
    view = KernelView(names=dict(names or {}))
    synced: dict[tuple[str, str], int] = {}  # (client ip:port, capture host) -> retransmitted SYNs seen there
    for event in events:
        view.end = max(view.end, event.t + float(event.data.get("seconds") or 0.0))
        if event.kind is Kind.SOCKET:
            _socket(view, event)
        elif event.kind is Kind.PACKET:
            _packet(view, event, synced)
        elif event.kind is Kind.SYSCALL:
            _syscall(view, event)
    for (src, _host), count in synced.items():
        view.syn_again[src] = max(view.syn_again.get(src, 0), count)
    return view


def _socket(view: KernelView, event: Event) -> None:
    d = event.data
    if d.get("probe"):
        return  # socklab's own readiness check, a health check: not the lesson's
    tracks = view.sockets.setdefault(event.host, {})
    track = tracks.get(d["key"])
    if track is None:
        track = tracks[d["key"]] = SocketTrack(event.host, d["key"], str(d.get("local")), d.get("peer"))
    if not track.states or track.states[-1][1] != d["state"]:
        track.states.append((event.t, str(d["state"])))
    if d["state"] == "LISTEN":
        track.backlog = d.get("backlog") if isinstance(d.get("backlog"), int) else track.backlog
        if not track.queue or track.queue[-1][1] != (d.get("recv_q") or 0):
            track.queue.append((event.t, int(d.get("recv_q") or 0)))
    elif d["state"] != "GONE":
        ip = ip_of(d.get("local"))
        if ip and not ip.startswith(("0.0.0.0", "127.", "::")):
            view.names.setdefault(ip, event.host)


def _packet(view: KernelView, event: Event, synced: dict[tuple[str, str], int]) -> None:
    d = event.data
    if d.get("probe"):
        return
    flags = d["flags"] if isinstance(d["flags"], str) else flag_letters(d["flags"])
    cid = str(d.get("conn") or " ".join(sorted((d["src"], d["dst"]))))
    conn = view.connections.setdefault(cid, Connection(cid))
    if conn.client is None and "S" in flags:
        conn.client, conn.server = (d["dst"], d["src"]) if "A" in flags else (d["src"], d["dst"])
    again = bool(d.get("retransmission"))
    if again and flags == "S":
        sender = (str(d["src"]), event.host)
        synced[sender] = synced.get(sender, 0) + 1
    waiting = conn.index.setdefault((d["src"], d["dst"], flags, d["length"]), [])
    while waiting and min(waiting[0].at.values()) < event.t - MATCH_WITHIN:
        waiting.pop(0)
    same = _twin(waiting, event.host, d["seq"], d["ack"])
    if same is not None:
        same.at[event.host] = event.t
        same.again = same.again or again
        waiting.remove(same)
        return
    if len(conn.rungs) >= KEPT_RUNGS:
        conn.dropped += 1
        return
    payload = bytes(d.get("payload") or []) or b"\0" * int(d["length"])
    label = str(d.get("label") or "")
    rung = Rung(
        d["src"], d["dst"], flags, d["seq"], d["ack"], d["length"], label, payload, again, {event.host: event.t}
    )
    conn.rungs.append(rung)
    waiting.append(rung)


def _twin(waiting: list[Rung], host: str, seq: int, ack: int) -> Rung | None:
    """The segment captured at the other end that this one is (same sender, receiver, flags and length, not
    seen here yet): the one with the same sequence numbers when there is one, else the oldest."""
    first = None
    for rung in waiting:
        if host in rung.at:
            continue
        if (rung.seq, rung.ack) == (seq, ack):
            return rung
        first = first or rung
    return first


def _syscall(view: KernelView, event: Event) -> None:
    d = event.data
    lanes = view.lanes.setdefault(event.host, {})
    lane = lanes.setdefault(d["pid"], Lane(d["pid"], event.t))
    lane.born = min(lane.born, event.t)
    if d["call"] == "attached":
        lane.attached = (event.t, d.get("from_start") is not False)
        return
    if d["call"] == "exit":
        lane.exited = event.t
        return
    call = Call(d["call"], event.t, d.get("seconds"), str(d.get("args") or ""), d.get("result"))
    known = lane.index.get((call.call, call.t))
    if known is not None:  # the same call again (``done``): it has returned since it was made
        lane.calls[known] = call
    else:
        lane.index[(call.call, call.t)] = len(lane.calls)
        lane.calls.append(call)
    if WAITS.match(call.call):
        lane.last_wait = call
    elif call.call.startswith("accept") and (wait := lane.last_wait) is not None and wait.seconds is not None:
        wait.for_accept = abs(wait.t + wait.seconds - call.t) < 0.005  # socklab's servers select, then accept
    result = str(d.get("result") or "")
    if FORKS.match(d["call"]) and result.isdigit() and int(result) > 0:
        back = event.t + float(d.get("seconds") or 0.0)
        child = lanes.setdefault(int(result), Lane(int(result), back))
        child.parent, child.forked, child.born = d["pid"], back, min(child.born, back)


def summary_rows(view: KernelView) -> list[dict[str, Any]]:
    """One row per connection: who, its segments, SYNs sent again, which side closed first (TIME_WAIT)."""
    waited: dict[str, str] = {}  # an endpoint pair -> the host whose socket went to TIME_WAIT
    for host, tracks in view.sockets.items():
        for track in tracks.values():
            if any(state == "TIME_WAIT" for _, state in track.states) and track.peer:
                waited[" ".join(sorted((track.local, track.peer)))] = host
    rows = []
    for conn in view.connections.values():
        pair = " ".join(sorted((str(conn.client), str(conn.server))))
        rungs = conn.ordered(view.names)
        rows.append(
            {
                "client": view.name(conn.client),
                "endpoints": f"{conn.client} → {conn.server}",
                "segments": len(conn.rungs) + conn.dropped,
                "syn_again": view.syn_again.get(str(conn.client), 0),
                "retransmissions": conn.retransmissions,
                "seconds": rungs[-1].sent(view.names) - rungs[0].sent(view.names) if rungs else None,
                "closed_first": waited.get(pair, "-"),
            }
        )
    return sorted(rows, key=lambda row: _natural(row["client"]))


def _natural(name: str) -> tuple[str, int, str]:
    stem, _, number = name.rpartition("-")
    return (stem, int(number), name) if number.isdigit() else (name, 0, name)
