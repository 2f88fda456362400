"""The faults of a run: prepared ahead of their moment, applied at it, each undone by its ``for``, its
``undo`` step, or the rollbacks, which undo whatever is still on (and let go of whatever was only prepared).

A fault lands on a target by name: ``server`` is whoever holds the alias at that moment, ``client-N`` the
container running on host N then. Each target gets a fault of its own from the catalog
(``faults/catalog.py``); a proxy fault goes to the impairment proxy that stands in the path.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import docker.errors
import requests

from socklab.faults.catalog import FAULTS, Site
from socklab.faults.proxy import ProxyStand
from socklab.faults.record import Fault, FaultError
from socklab.lab.containers import LabContainer
from socklab.lab.lab import Lab
from socklab.scenarios import model
from socklab.scenarios.hosts import ClientHosts

GONE = (docker.errors.DockerException, requests.exceptions.RequestException)


PREPARE_WAIT = 5.0  # how long a preparation waits for its target to be running (a server starting again)


def _running(container: LabContainer, timeout: float) -> None:
    """Wait, bounded, until the container runs: an agent cannot join the namespace of one that does not."""
    deadline = time.monotonic() + timeout
    while container.status() != "running" and time.monotonic() < deadline:
        time.sleep(0.1)  # no event says "running" for a container being started: poll, bounded


def _started(container: LabContainer) -> str:
    """When the container last started (a kill and a start give it a new network namespace)."""
    container.sdk.reload()
    return str(container.sdk.attrs["State"].get("StartedAt", ""))


@dataclass
class Held:
    """One fault on one target."""

    step: model.Step
    target: str  # server, client-N
    fault: Fault | None = None
    container: str = ""  # the container it landed on
    prepared_for: LabContainer | None = None
    prepared_started: str = ""  # the container's StartedAt then: a restart since gives it a new namespace
    applied_at: float | None = None  # POSIX
    undone_at: float | None = None
    error: str = ""

    @property
    def on(self) -> bool:
        return self.applied_at is not None and self.undone_at is None


@dataclass
class FaultBook:
    lab: Lab
    hosts: ClientHosts
    tools: str | None = None
    proxy: ProxyStand | None = None
    held: list[Held] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def _container(self, target: str) -> LabContainer | None:
        if target == "server":
            return self.lab.server
        return self.hosts.container_of(int(target.split("-")[1]))

    def _build(self, held: Held, container: LabContainer) -> Fault:
        action = held.step.action
        assert isinstance(action, model.Fault)
        site = Site(container, self.lab.docker, lab=self.lab, proxy=self.proxy, tools=self.tools)
        return FAULTS[action.name].build(action.params, site, action.seconds)

    def prepare(self, step: model.Step, targets: tuple[str, ...]) -> list[Held]:
        """Get each target's fault ready (a network fault's agent, armed); nothing is touched yet. A client
        target is prepared only when it makes continuous exchanges (a wave's container may be gone by then)."""
        prepared = []
        for target in targets:
            held = Held(step, target)
            container = self._container(target)
            steady = target == "server" or self._continuous(target)
            if container is not None and steady:
                try:
                    _running(container, PREPARE_WAIT)
                    held.prepared_started = _started(container)
                    held.fault = self._build(held, container)
                    held.fault.prepare()
                    held.prepared_for = container
                except (FaultError, ValueError, *GONE):  # applied the slow way when it fires
                    held.fault, held.prepared_for = None, None
            prepared.append(held)
        with self._lock:
            self.held += prepared
        return prepared

    def _continuous(self, target: str) -> bool:
        host = int(target.split("-")[1])
        return any(b.continuous and host in b.containers and host not in b.runs for b in self.hosts.batches)

    def apply(self, prepared: list[Held]) -> list[str]:
        """Apply each (at once if prepared for the container that is there now); what happened, in words."""
        said = []
        for held in prepared:
            container = self._container(held.target)
            if container is None:
                held.error = f"{held.target} has no container running now: not applied"
                said.append(held.error)
                continue
            stale = held.prepared_for is not container or held.prepared_started != _started(container)
            if held.fault is not None and stale:  # a swap, a new wave or a restart since: a new namespace
                held.fault.undo()
                held.fault = None
            try:
                if held.fault is None:
                    held.fault = self._build(held, container)
                record = held.fault.__enter__()
            except (FaultError, ValueError, *GONE) as exc:
                held.error = f"{held.target}: {exc}"
                said.append(held.error)
                continue
            held.container, held.applied_at = record.target, record.applied_at or time.time()
            said.append(f"{record.applied_line()}")
        return said

    def undo(self, step: model.Step, reason: str) -> list[str]:
        """Undo the faults this step applied (its ``for`` ran out, or an ``undo`` step named it)."""
        with self._lock:
            mine = [held for held in self.held if held.step.index == step.index]
        return [self._undo(held, reason) for held in mine if held.fault is not None and held.undone_at is None]

    def _undo(self, held: Held, reason: str) -> str:
        assert held.fault is not None
        name = held.step.action.name if isinstance(held.step.action, model.Fault) else "fault"
        if held.undone_at is not None:
            return f"{name} on {held.target}: undone already"
        if held.applied_at is None:  # prepared only: its agent goes, nothing was touched
            held.fault.undo()
            held.undone_at = time.time()
            return f"{name} on {held.target}: prepared, never applied"
        record = held.fault.record
        try:
            if record is not None:
                record.undone_because = record.undone_because or reason
            held.fault.__exit__(None, None, None)
        except FaultError as exc:
            held.error = f"not undone: {exc}"
            return f"{name} on {held.target}: {held.error}"
        finally:
            held.undone_at = time.time()
        return record.undone_line() if record is not None else f"{name} undone on {held.target}"

    def undo_all(self) -> list[str]:
        """The rollbacks: every fault still on is undone (the latest first), every prepared one let go."""
        with self._lock:
            left = [held for held in reversed(self.held) if held.fault is not None and held.undone_at is None]
        return [self._undo(held, "the rollbacks") for held in left]
