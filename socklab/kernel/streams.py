"""A lab's kernel streams (``--kernel``): its hosts' sockets and packets, and its servers' system calls, as events.

``KernelStreams`` belongs to a ``Lab`` (``LabKernel``) while a run is recorded with ``--kernel``. It starts the
lab's observer with the lab and tells it about each container with a network of its own the moment it runs,
before the lab waits for it (``started``): a server before its readiness check, a client before the start
barrier releases it, so their first packets are seen. Each server process also gets a tracer, and a
server our images made waits for it (``SOCKLAB_WAIT_FOR_TRACER``, ``server_env``). A container started again
(a restart, ``docker start`` after a kill) is a new process in new namespaces: it is observed and traced
anew (``restarted``, from the engine's events). Observing never breaks the run: what fails is said on the
progress line and as a ``kernel.lost`` measurement, and the run goes on.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import docker.errors

from socklab.events.schema import Kind
from socklab.kernel.containers import Running, observer_node, tracer_node
from socklab.kernel.events import Packets, socket_data, syscall_data
from socklab.lab.containers import LabContainer
from socklab.lab.topology import SERVER
from socklab.wire.config import ServerConfig

if TYPE_CHECKING:
    from socklab.lab.lab import Lab

SERVER_INTERVAL = 0.05  # seconds between two samples of a server's sockets (the lesson asks for 0.1 at most)
CLIENT_INTERVAL = 0.1  # what the others ask for; the observer stretches it to its budget (observer.watch)
TRACER_WAIT = 15.0  # seconds a server of ours waits for its tracer before socket() (SOCKLAB_WAIT_FOR_TRACER)
ANSWER = 15.0  # seconds the observer and a tracer have to say they are there

POLL = 0.05  # seconds between two looks at two events at once (threading has no wait for either)


def _either(first: threading.Event, second: threading.Event, timeout: float) -> bool:
    """Wait until either event is set (True), or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    while not (first.is_set() or second.is_set()):
        if time.monotonic() >= deadline:
            return False
        first.wait(min(POLL, max(0.0, deadline - time.monotonic())))
    return True


class KernelStreams:
    def __init__(self, lab: Lab, *, image: str) -> None:
        self.lab = lab
        self.image = image
        self.observer: Running | None = None
        self.pids: dict[str, int] = {}  # role -> the PID whose namespaces are observed
        self.tracers: dict[str, Running] = {}  # role -> its current tracer
        self.packets: dict[str, Packets] = {}  # role -> its capture's reader
        self.probes_from = frozenset[str]()
        self._answers: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._said_ended = False

    # --- life cycle -------------------------------------------------------------------------------------------
    def start(self, probes_from: frozenset[str]) -> KernelStreams:
        self.probes_from = probes_from
        self.observer = Running(self.lab, observer_node(self.lab, self.image), self._observed).start()
        return self

    def close(self) -> None:
        """The observer samples every namespace a last time and goes; the tracers go with it."""
        if self.observer is not None:
            self.observer.close()
        for tracer in list(self.tracers.values()):
            tracer.close(timeout=0)

    @staticmethod
    def server_env() -> dict[str, str]:
        """What a server is started with so that its tracer sees socket, bind and listen (our images only)."""
        return ServerConfig(wait_for_tracer=TRACER_WAIT).to_env()

    # --- containers -------------------------------------------------------------------------------------------
    def started(self, container: LabContainer, *, server: bool | None = None) -> None:
        """Observe a container that just started (its network namespace) and trace it if it is a server (by
        default: it has the alias ``server``). An adopted container (one the lab did not make) is observed too."""
        if self.observer is None or container.node.shares_network_with or (container.owned and not container.network):
            return  # a sidecar in another's namespace, or a container without a network: no host of the lab
        role = container.node.role
        try:
            container.sdk.reload()
            pid = int(container.sdk.attrs["State"]["Pid"])
        except (docker.errors.APIError, KeyError, ValueError) as exc:
            self._lost(role, f"cannot tell its process: {exc}")
            return
        with self._lock:
            if not pid or self.pids.get(role) == pid:
                return  # not running, or already observed (the engine's start event after ours)
            self.pids[role] = pid
            answer = self._answers[role] = threading.Event()
            self.packets[role] = Packets(port=self.lab.port, probes_from=self.probes_from)
        server = SERVER in container.node.aliases if server is None else server
        interval = SERVER_INTERVAL if server else CLIENT_INTERVAL
        self.observer.send("watch", ns=role, pid=pid, interval_s=interval, capture=True, server=server)
        if not _either(answer, self.observer.ended, ANSWER):
            self._lost(role, f"the observer did not open its namespace in {ANSWER:g} s")
        elif self.observer.ended.is_set() and not self._said_ended:
            self._said_ended = True
            self._lost(role, f"the observer has ended: {' | '.join(self.observer.noise)[-500:]}")
        if server:
            self.trace(container)

    def trace(self, container: LabContainer, *, wait: float = ANSWER) -> None:
        """A tracer for the process now running in ``container``; returns once strace holds it (or after ``wait``)."""
        role = container.node.role
        attached = threading.Event()

        def handle(msg: str, fields: dict[str, Any]) -> None:
            if msg == "attached":
                attached.set()
            self._traced(role, msg, fields)

        old = self.tracers.pop(role, None)
        if old is not None:
            old.close(timeout=0)
        try:
            tracer = Running(self.lab, tracer_node(self.lab, container, self.image), handle).start()
        except Exception as exc:  # noqa: BLE001 - a run is never broken by its observation
            self._lost(role, f"no tracer: {exc}")
            return
        self.tracers[role] = tracer
        if not _either(attached, tracer.ended, wait) or not attached.is_set():
            self._lost(role, f"strace did not attach in {wait:g} s: {' | '.join(tracer.noise)[-500:]}")

    def restarted(self, role: str, container_id: str) -> None:
        """The engine started one of the lab's containers (again): observe its new process, if it has one."""
        container = self.lab.containers.get(role)
        if container is not None and container.started and container.sdk.id == container_id:
            threading.Thread(target=self.started, args=(container,), name=f"kernel-{role}", daemon=True).start()

    def removed(self, container: LabContainer) -> None:
        role = container.node.role
        if self.pids.pop(role, None) is not None and self.observer is not None:
            self.observer.send("forget", ns=role)
        tracer = self.tracers.pop(role, None)
        if tracer is not None:
            tracer.close(timeout=0)

    # --- what they say ----------------------------------------------------------------------------------------
    def _observed(self, msg: str, fields: dict[str, Any]) -> None:
        role = str(fields.get("ns", ""))
        t = float(fields.get("t") or time.time())
        if msg == "socket":
            self.lab.emit(Kind.SOCKET, role, t=t, **socket_data(fields["socket"], self.probes_from))
        elif msg == "frame":
            packets = self.packets.get(role)
            data = None if packets is None else packets.data(t, fields["frame"], outgoing=fields["outgoing"])
            if data is not None:
                self.lab.emit(Kind.PACKET, role, t=t, **data)
        elif msg in ("watching", "sampling"):
            if msg == "watching" and role in self._answers:
                self._answers[role].set()
            labels = {"streams": ["socket", "packet"] if fields.get("capture", True) else ["socket"]}
            if "cost_ms" in fields:
                labels["cost_ms"] = fields["cost_ms"]
            self.lab.emit(
                Kind.MEASUREMENT, role, t=t, name="kernel.sampling", value=fields["interval_s"], unit="s", labels=labels
            )
        elif msg == "sampled":
            labels = {"samples": fields["samples"], "max_gap_s": fields["max_gap_s"]}
            self.lab.emit(
                Kind.MEASUREMENT, role, t=t, name="kernel.sampled", value=fields["mean_s"], unit="s", labels=labels
            )
        elif msg == "skipped":
            self.lab.emit(
                Kind.MEASUREMENT, role, t=t, name="kernel.skipped_frames", value=fields["frames"], unit="frames"
            )
        elif msg in ("lost", "failed"):
            if role in self._answers:
                self._answers[role].set()
            self._lost(role, str(fields.get("error")))

    def _traced(self, role: str, msg: str, fields: dict[str, Any]) -> None:
        t = float(fields.get("t") or time.time())
        if msg == "syscall":
            self.lab.emit(Kind.SYSCALL, role, t=t, **syscall_data(fields))
        elif msg == "attached":
            pids = [int(p) for p in fields["pids"]]
            self.lab.emit(
                Kind.SYSCALL,
                role,
                t=t,
                pid=min(pids),
                call="attached",
                args=f"pids {' '.join(map(str, pids))}",
                result=None,
                seconds=None,
                done=True,
                pids=pids,
                from_start=fields["from_start"],
            )
        elif msg == "exited":
            self.lab.emit(
                Kind.SYSCALL, role, t=t, pid=fields["pid"], call="exit", args="", result=fields["status"],
                seconds=None, done=True,
            )  # fmt: skip
        elif msg == "failed":
            self._lost(role, f"strace: {fields['error']}")

    def _lost(self, role: str, error: str) -> None:
        self.lab.progress(f"kernel: {role}: {error}")
        self.lab.emit(Kind.MEASUREMENT, role, name="kernel.lost", value=1, unit="", labels={"error": error[:500]})
