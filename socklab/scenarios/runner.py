"""Running a scenario: a ``Lab`` per server version; the steady state judged on a wave before the method;
the method on the clock; the rollbacks, always; a wave after them; the verdict.

The rollbacks run however the method ends (its ``end``, an error, Ctrl-C): continuous exchanges stop (each
finishes the one in flight, bounded), every fault still on is undone, every prepared one let go, and the
lab goes with everything it made. If the command is killed outright (SIGKILL), a network fault's sidecar
ends it on its own timer and socklab's reaper undoes the process faults and removes the lab, as for every
command.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests

from socklab.events import recorder as events
from socklab.events.schema import Kind
from socklab.faults.catalog import FAULTS, Via, proxy_faults
from socklab.faults.proxy import ProxyStand
from socklab.lab.lab import Lab
from socklab.lab.sidecar import tools_image
from socklab.load.exchange import ask
from socklab.progress import Progress, quiet
from socklab.scenarios import model
from socklab.scenarios.book import FaultBook
from socklab.scenarios.hosts import ClientHosts
from socklab.scenarios.journal import Journal, ProbeRecord, VersionRun
from socklab.scenarios.loader import DEFAULT_CLIENT
from socklab.scenarios.method import Method
from socklab.scenarios.plan import Plan, new_seed, plan
from socklab.scenarios.probes import PROBES, Window, measure

ALIVE_GRACE = 5.0  # beyond the delay, how long the server-alive probe waits for its answer


class LabServer:
    """The lab's server now, for the server probes."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def alive(self) -> tuple[bool, str]:
        server = self.lab.server
        if server is None:
            return False, "the lab has no server"
        try:
            status = server.status()
        except docker.errors.NotFound:
            return False, "the server container is gone"
        if status != "running":
            return False, f"the server container is {status}"
        try:
            answer = ask(server.address(), self.lab.port, b"A", timeout=self.lab.delay + ALIVE_GRACE)
        except OSError as exc:
            return False, f"running, but an exchange from the host failed: {exc!r}"
        return answer.ok, f"running; answered {answer.describe()} in {answer.seconds:.2f} s"

    def defunct(self) -> tuple[int, str]:
        assert self.lab.server is not None
        rows = self.lab.server.sdk.top(ps_args="-o pid,stat,comm")["Processes"] or []
        zombies = [row for row in rows if "Z" in row[1]]
        return len(zombies), f"{len(rows)} process(es), {len(zombies)} <defunct>" + (f": {zombies}" if zombies else "")


def engine_facts(client: docker.DockerClient) -> dict[str, Any]:
    info = client.info()
    return {
        "version": info.get("ServerVersion"),
        "kernel": info.get("KernelVersion"),
        "os": info.get("OperatingSystem"),
        "cgroup": f"v{info.get('CgroupVersion', '1')}",
        "cpus": info.get("NCPU"),
    }


def image_facts(client: docker.DockerClient, image: str) -> dict[str, Any]:
    try:
        found = client.images.get(image)
    except docker.errors.ImageNotFound:
        return {"tag": image}
    return {"tag": image, "id": found.id, "digests": found.attrs.get("RepoDigests") or []}


def _record_probe(run: VersionRun, probe: ProbeRecord, lab: Lab) -> None:
    run.probes.append(probe)
    lab.emit(
        Kind.PROBE,
        "scenario",
        phase=probe.phase,
        probe=probe.check.probe,
        value=probe.value,
        tolerance=str(probe.check.tolerance),
        ok=probe.ok,
        detail=probe.detail,
        server=run.server,
    )


def judge(run: VersionRun, checks: tuple[model.Check, ...], phase: str, window: Window, server: LabServer) -> None:
    for check in checks:
        if phase == "run" and (check.over != "run" or PROBES[check.probe].of == "server"):
            continue
        value = measure(check.probe, window, server)
        _record_probe(run, ProbeRecord(phase, check, value.value, value.detail), server.lab)


@dataclass(frozen=True)
class RunOptions:
    seed: int | None = None  # overrides the file's
    servers: tuple[str, ...] = ()  # overrides the file's lab.server
    client_image: str | None = None


WAVE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException, TimeoutError, RuntimeError)


def steady_wave(
    run: VersionRun, checks: tuple[model.Check, ...], phase: str, hosts: ClientHosts, side: LabServer
) -> bool:
    """The steady state's wave (every client host, one exchange) and its checks; a wave that cannot run
    (the engine refused a container, a host stayed busy) fails every check of the phase, saying why."""
    try:
        window = hosts.wave(list(range(1, hosts.count + 1)), label=phase)
    except WAVE_ERRORS as exc:
        said = f"the {phase} wave could not run: {type(exc).__name__}: {exc}"[:400]
        run.notes.append(said)
        for check in checks:
            _record_probe(run, ProbeRecord(phase, check, None, said), side.lab)
        return False
    judge(run, checks, phase, window, side)
    return True


def run_method(run: VersionRun, method: Method, hosts: ClientHosts, book: FaultBook, progress: Progress) -> None:
    """The method, then the rollbacks, whatever happened (an error, Ctrl-C: then re-raised)."""
    try:
        progress(f"method: {len(method.plan.entries)} steps over {model.spoken(method.plan.end_at)}")
        run.steps = method.run()
        run.started = method.wall_start
    except KeyboardInterrupt:
        run.interrupted = True
        raise
    finally:
        method.halt()
        run.steps = run.steps or [method.records[method._key(e)] for e in method.plan.entries]
        killed = hosts.end()
        run.notes += [f"{name} did not finish its exchange in time at the end: killed" for name in killed]
        run.rollbacks += book.undo_all()
        progress(f"rollbacks: clients stopped; {len(run.rollbacks) or 'no'} fault(s) still on undone or let go")


def run_version(
    scenario: model.Scenario, planned: Plan, server: str, client_image: str, progress: Progress
) -> VersionRun:
    run = VersionRun(server)
    proxy_needed = scenario.uses(proxy_faults())
    sidecars = scenario.uses(tuple(n for n, k in FAULTS.items() if k.via is Via.SIDECAR))
    with Lab(server_image=server, client_image=client_image, delay=scenario.lab.delay, purpose="scenario") as lab:
        progress(f"{server}: accepting at {lab.server_address()}:{lab.port}")
        run.image = image_facts(lab.docker, server)
        proxy = ProxyStand(lab, seed=planned.seed) if proxy_needed else None
        if proxy is not None:
            progress(f"impairment proxy in the path: {proxy.insert()}")
        hosts = ClientHosts(lab, image=client_image, delay=scenario.lab.delay, count=scenario.lab.clients)
        book = FaultBook(lab, hosts, tools_image(lab.docker) if sidecars else None, proxy)
        side = LabServer(lab)
        if not steady_wave(run, scenario.steady_state, "before", hosts, side):
            run.notes.append("the method did not run: the steady state could not be judged before it")
            return run
        method = Method(
            scenario, planned, lab=lab, hosts=hosts, book=book, server=side, proxy_in_path=proxy is not None,
            on_probe=lambda probe: _record_probe(run, probe, lab),
        )  # fmt: skip
        run_method(run, method, hosts, book, progress)
        judge(run, scenario.steady_state, "run", hosts.window(method.batches), side)
        steady_wave(run, scenario.steady_state, "after", hosts, side)
    progress(run.verdict())
    return run


def run_scenario(
    scenario: model.Scenario, *, options: RunOptions = RunOptions(), progress: Progress = quiet
) -> Journal:
    """Run ``scenario`` against each server version in turn; the journal of it all."""
    seed = options.seed if options.seed is not None else scenario.seed if scenario.seed is not None else new_seed()
    planned = plan(scenario, seed)
    servers = options.servers or scenario.lab.servers
    client_image = options.client_image or scenario.lab.client_image or DEFAULT_CLIENT
    client = docker.from_env()
    try:
        journal = Journal(scenario, planned, engine_facts(client))
    finally:
        client.close()
    progress(f"scenario {scenario.name}: seed {seed}")
    for server in servers:
        started = time.monotonic()
        try:
            journal.runs.append(run_version(scenario, planned, server, client_image, progress))
        finally:
            progress(f"{server}: {time.monotonic() - started:.1f} s")
    with contextlib.suppress(Exception):
        events.emit(Kind.VERDICT, ok=journal.ok, text="; ".join(run.verdict() for run in journal.runs), details=[])
    return journal
