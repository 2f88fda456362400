"""What a run's event log says, put in order for the report: pure, from the events alone (a saved log replays).

``read_run(events)`` gives a ``RunView``: the command and its outcome, the verdicts, the hosts, each lab's
exchanges (client connected -> server accepted -> answered or failed), the faults and what was lost, the
bench's measurements, the trace's packets and ``--kernel``'s streams (``report.kernel``). Hosts are ``role``
for the first lab of a run and ``labN/role`` for the others (``Recorder.lab_prefix``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from socklab.events.schema import Event, Kind
from socklab.report.kernel import KernelView, ip_of, read_kernel

KERNEL_KINDS = (Kind.SOCKET, Kind.PACKET, Kind.SYSCALL)


def lab_of(host: str) -> str:
    """The lab a host belongs to: '' for the first, 'lab2'… for the others."""
    return host.split("/", 1)[0] if "/" in host else ""


def role_of(host: str) -> str:
    return host.split("/", 1)[1] if "/" in host else host


def clock(t: float | None) -> str:
    """A POSIX time as the UTC time of day, to the millisecond."""
    if t is None:
        return "-"
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%H:%M:%S.%f")[:-3]


@dataclass
class Exchange:
    """One exchange of one client, as the client and the server saw it (POSIX times)."""

    host: str
    address: str | None
    connected: float | None = None
    accepted: float | None = None
    served: float | None = None
    ended: float | None = None  # answered or failed
    ok: bool = False
    reply: int | None = None
    error: str | None = None

    @property
    def start(self) -> float | None:
        return self.connected if self.connected is not None else self.accepted

    @property
    def seconds(self) -> float | None:
        return None if self.start is None or self.ended is None else self.ended - self.start


@dataclass
class FaultView:
    name: str
    target: str
    applied: float | None
    undone: float | None = None
    until: float | None = None
    spec: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    failed_during: int = 0  # exchanges of the run that failed while it was on
    ended_during: int = 0  # exchanges that ended (answered or failed) while it was on

    @property
    def seconds(self) -> float | None:
        return None if self.applied is None or self.undone is None else self.undone - self.applied

    @property
    def end(self) -> float | None:
        return self.undone if self.undone is not None else self.until


@dataclass
class LabView:
    """One lab of the run: its server(s), its clients' exchanges, the server's own counts."""

    name: str  # '' for the first lab
    server: dict[str, Any] = field(default_factory=dict)  # the server's host fields, merged
    exchanges: list[Exchange] = field(default_factory=list)
    accepted: int = 0  # by the server, not counting socklab's readiness checks
    served: int = 0
    verdict: dict[str, Any] | None = None

    @property
    def title(self) -> str:
        image = self.server.get("image") or "lab"
        return f"{self.name}: {image}" if self.name else str(image)

    @property
    def clients(self) -> list[str]:
        return sorted({e.host for e in self.exchanges}, key=natural)

    @property
    def answered(self) -> int:
        return sum(e.ok for e in self.exchanges)

    @property
    def failed(self) -> int:
        return sum(not e.ok and e.ended is not None for e in self.exchanges)


@dataclass
class RunView:
    run: str
    command: str = ""
    title: str = "socklab run"
    args: dict[str, Any] = field(default_factory=dict)
    started: float | None = None
    finished: float | None = None
    exit_code: int | None = None
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)  # host -> merged host fields
    containers: dict[str, list[tuple[float, str, Any]]] = field(default_factory=dict)  # host -> (t, what, code)
    labs: list[LabView] = field(default_factory=list)
    faults: list[FaultView] = field(default_factory=list)
    lost: list[dict[str, Any]] = field(default_factory=list)  # the faults suite's rows
    measurements: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # name -> rows
    packets: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)  # a scenario's steps as they fired
    probes: list[dict[str, Any]] = field(default_factory=list)  # a scenario's probes as they were judged
    kernel: KernelView = field(default_factory=KernelView)  # --kernel's streams (and the trace's packets)
    counts: Counter[str] = field(default_factory=Counter)
    events: int = 0

    @property
    def seconds(self) -> float | None:
        return None if self.started is None or self.finished is None else self.finished - self.started

    @property
    def ok(self) -> bool | None:
        """Every verdict ok (None when there is none)."""
        return None if not self.verdicts else all(bool(v.get("ok")) for v in self.verdicts)

    @property
    def exchanges(self) -> list[Exchange]:
        return [e for lab in self.labs for e in lab.exchanges]

    @property
    def clients(self) -> int:
        return sum(len(lab.clients) for lab in self.labs)


def natural(host: str) -> tuple[str, int, str]:
    stem, _, number = host.rpartition("-")
    return (stem, int(number), host) if number.isdigit() else (host, 0, host)


def read_run(events: Iterable[Event]) -> RunView:
    ordered = sorted(events, key=lambda e: e.t)
    view = RunView(run=ordered[0].run if ordered else "")
    view.events = len(ordered)
    labs: dict[str, LabView] = {}
    exchanges: dict[str, list[Exchange]] = defaultdict(list)  # host -> its exchanges in time order
    by_peer: dict[tuple[str, str], Exchange] = {}  # (lab, a client's ip:port) -> its exchange
    server_side: list[Event] = []

    def lab(host: str) -> LabView:
        return labs.setdefault(lab_of(host), LabView(lab_of(host)))

    def open_exchange(event: Event) -> Exchange:
        address = event.data.get("address")
        key = (lab_of(event.host), str(address))
        found = by_peer.get(key) if address else None
        if found is None or found.host != event.host or found.ended is not None:
            found = Exchange(event.host, address)
            exchanges[event.host].append(found)
            lab(event.host).exchanges.append(found)
            if address:
                by_peer[key] = found
        return found

    for event in ordered:
        view.counts[str(event.kind)] += 1
        data = event.data
        kind = event.kind
        if kind is Kind.RUN_STARTED:
            view.command = str(data.get("command", ""))
            view.title = str(data.get("title") or f"socklab {view.command}")
            view.args = dict(data.get("args") or {})
            view.started = event.t
        elif kind is Kind.RUN_FINISHED:
            view.finished = event.t
            view.exit_code = data.get("exit_code")
        elif kind is Kind.VERDICT:
            name = str(data.get("lab") or lab_of(event.host))
            view.verdicts.append({"t": event.t, **data, "lab": name})
            if event.host or "lab" in data or data.get("server"):
                labs.setdefault(name, LabView(name)).verdict = dict(data)
        elif kind is Kind.HOST:
            merged = view.hosts.setdefault(event.host, {})
            merged.update({k: v for k, v in data.items() if v not in (None, "")})
            if role_of(event.host).startswith("server") and "address" in data:
                lab(event.host).server.update(merged)
        elif kind in (Kind.CONTAINER_STARTED, Kind.CONTAINER_STOPPED):
            what = str(data.get("state") or ("started" if kind is Kind.CONTAINER_STARTED else "stopped"))
            view.containers.setdefault(event.host, []).append((event.t, what, data.get("exit_code")))
        elif kind is Kind.CONNECTED:
            exchange = open_exchange(event)
            exchange.connected = event.t
        elif kind in (Kind.ANSWERED, Kind.FAILED):
            exchange = open_exchange(event)
            if exchange.connected is None and data.get("connected_at") is not None:
                exchange.connected = float(data["connected_at"])
            exchange.ended = event.t
            exchange.ok = kind is Kind.ANSWERED and bool(data.get("ok", True))
            exchange.reply = data.get("reply")
            exchange.error = data.get("error") if kind is Kind.FAILED else None
        elif kind in (Kind.ACCEPTED, Kind.SERVED):
            if not data.get("probe"):
                server_side.append(event)
        elif kind is Kind.FAULT_APPLIED:
            spec = dict(data.get("spec") or {})
            view.faults.append(
                FaultView(str(data.get("name")), str(data.get("target")), event.t, until=data.get("until"), spec=spec)
            )
        elif kind is Kind.FAULT_UNDONE:
            fault = next((f for f in view.faults if f.name == data.get("name") and f.undone is None), None)
            if fault is None:
                fault = FaultView(str(data.get("name")), str(data.get("target")), None)
                view.faults.append(fault)
            fault.undone = event.t
            fault.report = dict(data.get("report") or {})
        elif kind is Kind.MEASUREMENT:
            row = {"t": event.t, "value": data.get("value"), "unit": data.get("unit"), **(data.get("labels") or {})}
            if data.get("name") == "faults.lost":
                view.lost.append(row)
            else:
                view.measurements.setdefault(str(data.get("name")), []).append(row)
        elif kind is Kind.PACKET:
            view.packets.append({"t": event.t, **data})
        elif kind is Kind.STEP:
            view.steps.append({"t": event.t, "lab": lab_of(event.host), **data})
        elif kind is Kind.PROBE:
            view.probes.append({"t": event.t, "lab": lab_of(event.host), **data})

    _match_server_side(server_side, by_peer, lab)
    names = {ip_of(str(h["address"])) or str(h["address"]): host for host, h in view.hosts.items() if h.get("address")}
    view.kernel = read_kernel((e for e in ordered if e.kind in KERNEL_KINDS), names)
    view.labs = [labs[name] for name in sorted(labs, key=lambda n: (len(n), n))]
    for item in view.labs:
        item.exchanges.sort(key=lambda e: (e.start or 0.0, e.host))
    for fault in view.faults:
        start, end = fault.applied, fault.end
        if start is None or end is None:
            continue
        during = [e for e in view.exchanges if e.ended is not None and start <= e.ended <= end + 1.0]
        fault.ended_during = len(during)
        fault.failed_during = sum(not e.ok for e in during)
    return view


def _match_server_side(events: list[Event], by_peer: dict[tuple[str, str], Exchange], lab: Any) -> None:
    """The server's ``accepted`` and ``served`` lines, each to the exchange of the client it names."""
    for event in events:
        target: LabView = lab(event.host)
        exchange = by_peer.get((lab_of(event.host), str(event.data.get("peer"))))
        if event.kind is Kind.ACCEPTED:
            target.accepted += 1
            if exchange is not None:
                exchange.accepted = event.t
        else:
            target.served += 1
            if exchange is not None:
                exchange.served = event.t
                if exchange.accepted is None and event.data.get("accepted_at") is not None:
                    exchange.accepted = float(event.data["accepted_at"])
