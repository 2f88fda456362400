"""The labs of a Chaos Toolkit run, by name: each a socklab ``Lab`` with the scenario runner's parts (client
hosts, the fault book, the server probes), kept for the life of the ``chaos`` process (one process runs
every activity of an experiment). ``stop`` is the rollbacks: faults undone, clients stopped, the lab gone."""

import itertools
import threading
from dataclasses import dataclass, field

from socklab.faults.params import FaultParams
from socklab.faults.proxy import ProxyStand
from socklab.lab.lab import Lab
from socklab.lab.sidecar import tools_image
from socklab.scenarios import model
from socklab.scenarios.book import FaultBook
from socklab.scenarios.hosts import Batch, ClientHosts
from socklab.scenarios.loader import DEFAULT_CLIENT
from socklab.scenarios.probes import Window
from socklab.scenarios.runner import LabServer

_LOCK = threading.Lock()
_SESSIONS: dict[str, "Session"] = {}


class NoLab(RuntimeError):
    """An activity named a lab that is not running."""


@dataclass
class Session:
    name: str
    lab: Lab
    hosts: ClientHosts
    book: FaultBook
    server: LabServer
    batches: list[Batch] = field(default_factory=list)  # the exchanges started by `clients` (the run's window)
    wave: Window | None = None  # the latest steady-state wave (a hypothesis's probes share it)
    _steps: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))

    def fault_step(self, name: str, params: FaultParams, target: str, seconds: float | None) -> model.Step:
        """A fault as the fault book takes it: a scenario step of its own (its index is its id here)."""
        action = model.Fault(name, params, model.Target(target), seconds)
        return model.Step(next(self._steps), 0.0, action, id=f"{name}-{target}")

    def every_host(self) -> list[int]:
        return list(range(1, self.hosts.count + 1))


def start(
    name: str, *, server: str, clients: int, delay: float, client_image: str | None, proxy: bool, seed: int | None
) -> Session:
    with _LOCK:
        if name in _SESSIONS:
            raise RuntimeError(f"a lab named {name!r} runs already")
    lab = Lab(server_image=server, client_image=client_image or DEFAULT_CLIENT, delay=delay, purpose="chaostoolkit")
    lab.__enter__()
    try:
        stand = ProxyStand(lab, seed=seed) if proxy else None
        if stand is not None:
            stand.insert()
        hosts = ClientHosts(lab, image=client_image or DEFAULT_CLIENT, delay=delay, count=clients)
        # Any fault of the catalog may come: the tools image (the network faults' agents) is there from the start.
        book = FaultBook(lab, hosts, tools_image(lab.docker), stand)
        session = Session(name, lab, hosts, book, LabServer(lab))
    except BaseException:
        lab.close()
        raise
    with _LOCK:
        _SESSIONS[name] = session
    return session


def get(name: str) -> Session:
    with _LOCK:
        session = _SESSIONS.get(name)
    if session is None:
        raise NoLab(f"no socklab lab named {name!r} is running (start it: socklab.chaostoolkit.actions.start_lab)")
    return session


def rollback(session: Session) -> list[str]:
    """Every fault still on undone, every client stopped (each finishes its exchange in flight)."""
    said = session.book.undo_all()
    killed = session.hosts.end()
    return said + [f"{name}: killed after the grace" for name in killed]


def stop(name: str) -> list[str]:
    """The rollbacks, then the lab and everything it made removed."""
    with _LOCK:
        session = _SESSIONS.pop(name, None)
    if session is None:
        return []
    try:
        return rollback(session)
    finally:
        session.lab.close()


def stop_all() -> None:
    with _LOCK:
        names = list(_SESSIONS)
    for name in names:
        stop(name)
