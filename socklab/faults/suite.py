"""The reliability suite: clients make exchanges continuously while one fault hits the server; count.

For each fault and server version: a fresh lab, ``clients`` client containers each making ``repeat``
exchanges (with the connect retry and ``SOCKLAB_RETRY_CUT``: an exchange cut before its answer is asked
again), the fault once the load is under way, then every result line read back. A row says how many
exchanges were sent, answered and lost, the errors by kind, how long the fault lasted, the time from its
end to the next answer (recovery), and the typical exchange time before and during it.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import docker.errors

from socklab import wire
from socklab.events import recorder as events
from socklab.events.schema import Kind
from socklab.faults import catalog
from socklab.faults.catalog import Site
from socklab.faults.params import DisconnectParams, FaultParams, LatencyParams, LossParams
from socklab.faults.record import Fault, FaultRecord, record_applied, record_undone
from socklab.lab.lab import Lab
from socklab.lab.sidecar import run_agent, tools_image
from socklab.progress import Progress, quiet
from socklab.sidecar.protocol import WaitEstablished
from socklab.wire.config import ClientConfig

# The suite's own choice among the catalog's faults (socklab.faults.catalog), by their names. Two are run its
# own way: ``stop`` with exchanges in flight and no start after (the SIGTERM drain), ``latency`` as a round
# straight to the server and one through the impairment proxy.
SUITE = ("stop", "kill", "pause", "partition", "disconnect", "loss", "latency")
for _name in SUITE:
    catalog.get(_name)  # a name the catalog does not know is an error at import, not in a lab


@dataclass(frozen=True)
class SuiteSettings:
    delay: float = 0.5  # the server's delay: short, so that many exchanges cross each fault
    clients: int = 3
    interval: float = 0.1  # between one client's exchanges
    in_flight: int = 5  # SIGTERM: this many exchanges accepted when the signal comes
    sigterm_delay: float = 3.0  # ... each waiting this long, so that all are still in flight at the signal
    hold: float = 2.0  # pause, partition, disconnect
    loss_percent: float = 20.0
    loss_seconds: float = 10.0
    latency_ms: float = 100.0
    jitter_ms: float = 20.0
    latency_seconds: float = 5.0
    reply_timeout: float = 10.0  # a client's patience for one answer (then the exchange counts as cut)

    def fault_seconds(self, fault: str) -> float:
        return {"loss": self.loss_seconds, "latency": self.latency_seconds, "kill": 0.0}.get(fault, self.hold)

    def params(self, fault: str, lab: Lab) -> FaultParams:
        """The catalog parameters of ``fault`` as the suite sets them."""
        if fault == "loss":
            return LossParams(percent=self.loss_percent)
        if fault == "latency":
            return LatencyParams(ms=self.latency_ms, jitter_ms=self.jitter_ms)
        if fault == "disconnect":
            assert lab.network is not None
            return DisconnectParams(network=lab.network.name)
        return catalog.get(fault).params()


@dataclass(frozen=True)
class Row:
    fault: str
    server: str
    sent: int
    answered: int
    lost: int
    errors: dict[str, int] = field(default_factory=dict)  # outcome of each failed attempt -> count
    recovery_s: float | None = None  # from the end of the fault to the next answer
    fault_s: float | None = None  # how long the fault lasted
    baseline_s: float | None = None  # median exchange (connect + answer) before the fault
    during_s: float | None = None  # median exchange that overlapped the fault
    crossed: int = 0  # exchanges that overlapped the fault: 0 means the fault hit no load
    mechanism: str = ""
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.answered == self.sent

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def _count(
    fault: str, server: str, sent: int, results: list[wire.ClientResult], record: FaultRecord | None, note: str = ""
) -> Row:
    errors = Counter(r.outcome for r in results if not r.ok)
    if cuts := sum(r.retried_cuts for r in results):
        errors["cut, retried"] = cuts  # answered in the end: SOCKLAB_RETRY_CUT asked again
    start = record.applied_at if record else None
    end = record.undone_at if record else None

    def total(r: wire.ClientResult) -> float:
        return (r.connect_seconds or 0.0) + (r.answer_seconds or 0.0)

    ok = [(r.answered_at, total(r)) for r in results if r.ok and r.answered_at is not None]
    before = [took for at, took in ok if start is not None and at < start]
    during = [took for at, took in ok if start is not None and end is not None and at > start and at - took < end]
    after = sorted(at for at, _ in ok if end is not None and at >= end)
    answered = len(ok)
    return Row(
        fault=fault,
        server=server,
        sent=sent,
        answered=answered,
        lost=max(0, sent - answered),
        errors=dict(errors),
        recovery_s=round(after[0] - end, 3) if after and end is not None else None,
        fault_s=round(record.seconds, 3) if record and record.seconds is not None else None,
        baseline_s=_median(before),
        during_s=_median(during),
        crossed=len(during),
        mechanism=record.mechanism if record else "",
        note=note,
    )


def _client_env(settings: SuiteSettings, repeat: int) -> dict[str, str]:
    return ClientConfig(
        repeat=repeat,
        interval=settings.interval,
        connect_deadline=30,
        reply_timeout=settings.reply_timeout,
        retry_cut=True,
    ).to_env()


def _wait_established(lab: Lab, count: int, tools: str) -> None:
    """Until ``count`` connections to the server's port are established, seen from inside its namespace."""
    assert lab.server is not None
    spec = WaitEstablished(port=lab.port, count=count, timeout=60)
    run_agent(lab, lab.server, spec, image=tools, timeout=90)


def _fault_for(name: str, lab: Lab, settings: SuiteSettings, tools: str) -> Fault:
    """The catalog's fault on the lab's server; ``kill`` starts it again at once (the suite's SIGKILL row)."""
    assert lab.server is not None
    seconds = settings.fault_seconds(name) or None
    site = Site(lab.server, lab.docker, lab=lab, tools=tools)
    return catalog.get(name).build(settings.params(name, lab), site, seconds)


@contextmanager
def _held(fault: AbstractContextManager[FaultRecord], seconds: float) -> Iterator[FaultRecord]:
    with fault as record:
        wait = getattr(fault, "wait", None)
        if seconds and wait is not None:
            wait()
        yield record


def run_fault(
    fault: str,
    *,
    server_image: str,
    client_image: str,
    settings: SuiteSettings = SuiteSettings(),
    progress: Progress = quiet,
) -> Row:
    """One row: one fault against one server version, in a lab of its own."""
    fault = catalog.get(fault).name  # a former name (sigkill, sigterm) reads as the catalog's
    tools = tools_image_cached()
    if fault == "stop":
        return _sigterm(server_image=server_image, client_image=client_image, settings=settings, tools=tools)
    if fault == "latency":
        return _latency(server_image=server_image, client_image=client_image, settings=settings)
    seconds = settings.fault_seconds(fault)
    per_exchange = settings.delay + settings.interval
    repeat = int((seconds + 6.0) / per_exchange) + 3  # the load outlasts the fault by a few seconds
    with Lab(server_image=server_image, client_image=client_image, delay=settings.delay, purpose="faults") as lab:
        containers = lab.start_clients(settings.clients, env=_client_env(settings, repeat))
        containers[0].wait_for_log(r'"outcome": "ok"', timeout=60)  # the load is under way
        if fault == "kill":
            _wait_established(lab, 1, tools)  # an exchange in flight, to be cut
        progress(f"{fault} on {server_image}")
        with _held(_fault_for(fault, lab, settings, tools), seconds) as record:
            pass
        progress(record.undone_line())
        runs = lab.collect(containers, timeout=120)
        note = _server_state(lab)
    results = [result for run in runs for result in run.results]
    return _count(fault, server_image, settings.clients * repeat, results, record, note=note)


def _server_state(lab: Lab) -> str:
    """Empty while the server runs; otherwise its state and last words (why the exchanges stopped)."""
    assert lab.server is not None
    try:
        status = lab.server.status()
    except docker.errors.NotFound:
        return "the server container was removed during the run"
    if status == "running":
        return ""
    return f"server {status}: {' | '.join(lab.server.logs().strip().splitlines()[-3:])}"


def _sigterm(*, server_image: str, client_image: str, settings: SuiteSettings, tools: str) -> Row:
    """N exchanges accepted and waiting, then SIGTERM: each must be answered before the server exits."""
    n = settings.in_flight
    delay = settings.sigterm_delay
    with Lab(server_image=server_image, client_image=client_image, delay=delay, purpose="faults") as lab:
        containers = lab.start_clients(n, env=_client_env(settings, 1))
        _wait_established(lab, n, tools)
        started = time.time()
        exit_code = lab.stop_server(timeout=settings.sigterm_delay + 10)
        assert lab.server is not None
        record = FaultRecord("stop", lab.server.name, "docker stop (SIGTERM; SIGKILL after the grace period)")
        record.applied_at, record.undone_at = started, time.time()
        record_applied(record)
        record_undone(record)
        runs = lab.collect(containers, timeout=60)
    results = [result for run in runs for result in run.results]
    after = sum(r.ok and r.answered_at is not None and r.answered_at >= started for r in results)
    note = f"{n} in flight, {after} answered after SIGTERM; server exited {exit_code}"
    return _count("stop", server_image, n, results, record, note=note)


def _latency(*, server_image: str, client_image: str, settings: SuiteSettings) -> Row:
    """The same load straight to the server, then through the impairment proxy: the shift it makes.

    The proxy goes in between the two rounds, not under load: moving the alias ``server`` means
    reconnecting the real server to the network, which is the disconnect fault's business, not this one's.
    """
    repeat = 5
    env = _client_env(settings, repeat)
    with Lab(server_image=server_image, client_image=client_image, delay=settings.delay, purpose="faults") as lab:
        before = lab.run_clients(settings.clients, env=env)
        with _fault_for("latency", lab, settings, "") as record:
            during = lab.run_clients(settings.clients, env=env)
    results = [result for run in [*before, *during] for result in run.results]
    row = _count("latency", server_image, 2 * settings.clients * repeat, results, record)
    return replace(row, recovery_s=None, note="one round straight to the server, one through the proxy")


_TOOLS: list[str] = []


def tools_image_cached() -> str:
    if not _TOOLS:
        client = docker.from_env()
        _TOOLS.append(tools_image(client))
        client.close()
    return _TOOLS[0]


def run_suite(
    *,
    servers: list[str],
    client_image: str,
    faults: tuple[str, ...] = SUITE,
    settings: SuiteSettings = SuiteSettings(),
    progress: Progress = quiet,
    on_row: Callable[[Row], None] | None = None,
) -> list[Row]:
    rows = []
    for server in servers:
        for fault in faults:
            row = run_fault(fault, server_image=server, client_image=client_image, settings=settings, progress=progress)
            progress(f"{fault} × {server}: {row.answered}/{row.sent} answered, {row.lost} lost")
            events.emit(
                Kind.MEASUREMENT, "fault", name="faults.lost", value=row.lost, unit="exchanges", labels=row.as_json()
            )
            text = f"{fault} against {server}: {row.answered}/{row.sent} answered, {row.lost} lost"
            events.emit(Kind.VERDICT, ok=row.ok, text=text, details=[row.note] if row.note else [], server=server)
            rows.append(row)
            if on_row:
                on_row(row)
    return rows
