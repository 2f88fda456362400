"""A throwaway lab: one network, one server under the alias ``server``, client containers on demand.

``Lab`` runs a ``Topology`` on the local engine. Everything carries this run's labels; leaving the
``Lab`` removes it all (Ctrl-C during the cleanup is held until it is done), and the reaper removes it
if the process dies first, SIGKILL included.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import math
import os
import random
import socket
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType

import docker
import docker.errors
import requests
from docker.constants import DEFAULT_TIMEOUT_SECONDS
from docker.models.containers import Container
from docker.types import IPAMConfig, IPAMPool
from testcontainers.core.config import testcontainers_config
from testcontainers.core.network import Network
from testcontainers.core.waiting_utils import WaitStrategy

from socklab import wire
from socklab.analysis.verdict import Verdict
from socklab.errors import require_image
from socklab.events import recorder as events
from socklab.events.docker_watch import LabWatch
from socklab.lab import reaper
from socklab.lab.client_run import ClientRun
from socklab.lab.containers import LabContainer
from socklab.lab.kernel import LabKernel
from socklab.lab.labels import LeftBehind, new_run_id, remove_run, run_labels
from socklab.lab.readiness import ConnectWaitStrategy
from socklab.lab.recording import LabRecording
from socklab.lab.report import LabReport
from socklab.lab.topology import LOCKED_DOWN, SERVER, Hardening, Node, Topology
from socklab.progress import Progress, quiet
from socklab.wire.config import ClientConfig

# Ryuk (testcontainers' reaper) is an image from a registry; socklab has its own reaper (reaper.py).
if "TESTCONTAINERS_RYUK_DISABLED" not in os.environ:
    testcontainers_config.ryuk_disabled = True

PORT = wire.DEFAULT_PORT
START_WORKERS = 8  # parallel `docker start` calls; more only queue inside dockerd (measured: ~4 starts/s)

__all__ = ["PORT", "ClientRun", "Lab", "LabReport", "Verdict", "foreign_lab"]


@dataclass
class Lab(LabRecording, LabKernel):
    """``with Lab(server_image=…, client_image=…, delay=…) as lab: lab.run_clients(3)``.

    ``server_image=None`` makes an empty lab (its network only): an experiment or a benchmark then starts
    its own containers with ``add(Node(...))``, under the same labels, limits and cleanup.

    ``own_network=False`` makes a lab with no network (``foreign_lab``): its containers are sidecars in the
    namespaces of containers it ``adopt``s (made by anyone) or in none.
    """

    server_image: str | None
    client_image: str | None = None
    delay: float = 5.0
    port: int = PORT
    run_id: str = field(default_factory=new_run_id)
    purpose: str = "lab"
    server_env: Mapping[str, str] = field(default_factory=dict)
    startup_timeout: float = 30.0
    hardening: Hardening = LOCKED_DOWN
    # A subnet of its own when containers need fixed addresses: "auto" picks a free /24, or name one.
    subnet: str | None = None
    # Seconds a call to dockerd may take: a benchmark holding 100,000 connections slows dockerd down.
    docker_timeout: int = DEFAULT_TIMEOUT_SECONDS
    progress: Progress = quiet
    own_network: bool = True
    # False: the reaper leaves this run alone, because what it makes ends and removes itself when this
    # process dies (a fault agent undoes on stdin EOF or on time; `socklab clean` stops what is left).
    reap: bool = True
    # Record the kernel's view of its hosts (socket, packet, syscall events): None follows the recorded run's
    # --kernel; needs a recorder (lab/kernel.py).
    kernel: bool | None = None

    def __post_init__(self) -> None:
        self.topology = Topology(self.run_id, delay=self.delay, port=self.port).with_hardening(
            self.hardening, None if self.hardening is LOCKED_DOWN else self.hardening
        )
        if self.server_image is not None:
            self.topology.server(self.server_image, env=self.server_env)  # rejects a contradicting env now
        self.labels = run_labels(self.run_id, self.purpose)
        self.docker = docker.from_env(timeout=self.docker_timeout)
        self.network: Network | None = None
        self.network_subnet: str | None = None
        self.server: LabContainer | None = None
        self.containers: dict[str, LabContainer] = {}  # every container by role, the replaced servers too
        self._clients_started = 0
        self.client_runs: list[ClientRun] = []  # every client run so far, in start order
        self._roles = itertools.count(1)
        self._watch: LabWatch | None = None  # the run's events, when a recorder is active
        self._kernel_streams = None  # the kernel's view (--kernel), once started
        self._recorder = events.active()
        self.host_prefix = "" if self._recorder is None else self._recorder.lab_prefix(self.run_id)

    # --- life cycle ---------------------------------------------------------------------------------
    def __enter__(self) -> Lab:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> None:
        for image in (self.server_image, self.client_image):
            if image is not None:
                require_image(self.docker, image)  # say which image is missing before making anything
        if self.reap:
            reaper.watch(self.run_id)  # from here on, even a SIGKILL of this process leaves nothing behind
        if self.own_network:
            self.network = self._create_network()
        self._start_watch()
        self._start_kernel(self._gateways())
        if self.server_image is not None:
            assert self.network is not None, "a server needs the lab's own network"
            self.progress(f"network {self.network.name}; starting server {self.server_image}")
            self.start_server(self.server_image)

    def _create_network(self) -> Network:
        """The lab's network; with a subnet, one that overlaps no other network on this engine."""
        candidates = [self.subnet] if self.subnet not in (None, "auto") else [None]
        if self.subnet == "auto":
            # Random: labs made at the same moment seldom try the same /24 first.
            candidates = [f"10.214.{k}.0/24" for k in random.sample(range(256), 32)]
        for subnet in candidates:
            options: dict[str, object] = {"labels": self.labels}
            if subnet is not None:
                options["ipam"] = IPAMConfig(pool_configs=[IPAMPool(subnet=subnet)])
            network = Network(docker_network_kw=options)
            network.name = self.topology.network_name()
            try:
                network.create()
            except docker.errors.APIError as exc:
                if self.subnet == "auto" and "overlap" in str(exc).lower():
                    continue
                raise
            self.network_subnet = subnet
            return network
        raise RuntimeError(f"no free /24 in 10.214.0.0/16 among {len(candidates)} tried")

    def host_address(self, host: int) -> str:
        """The address of host number ``host`` in the lab's own subnet (a Lab made with ``subnet``)."""
        if self.network_subnet is None:
            raise ValueError("this lab has no subnet of its own: make it with subnet='auto' or a CIDR")
        return str(ipaddress.ip_network(self.network_subnet)[host])

    def close(self) -> None:
        """End the servers as the lesson does (SIGTERM, a short drain), then remove every container, the
        network and anything else labelled with this run."""
        with reaper.interrupts_deferred():
            self._stop_gracefully()  # first: the servers drain and exit as the lesson ends them, observed
            self._close_kernel()  # then the observer's last samples of the hosts still there
            for container in list(self.containers.values()):
                container.remove()
            if self._watch is not None:
                self._watch.close()  # after the removals: each server's log has been read to its end
            try:
                remove_run(self.docker, self.run_id)
            except LeftBehind as exc:
                # The engine still refused after remove_run's patience: the reaper tries again when this
                # process exits (and a normal exit waits for it), so it is not told "done".
                warnings.warn(str(exc), ResourceWarning, stacklevel=2)
                self.progress(f"warning: {exc}")
            else:
                if self.reap:
                    reaper.done(self.run_id)
            self.docker.close()

    def _stop_gracefully(self) -> None:
        """``docker stop`` every running container whose node has a ``stop_grace``, side by side."""
        ending = [c for c in self.containers.values() if c.owned and c.started and c.node.stop_grace is not None]
        if not ending:
            return

        def stop(container: LabContainer) -> None:
            with contextlib.suppress(docker.errors.APIError, requests.exceptions.RequestException):
                container.sdk.stop(timeout=math.ceil(container.node.stop_grace or 0))

        with ThreadPoolExecutor(min(START_WORKERS, len(ending))) as pool:
            list(pool.map(stop, ending))

    # --- containers ---------------------------------------------------------------------------------
    def add(self, node: Node, *, wait: WaitStrategy | None = None) -> LabContainer:
        """Start one container of the topology (a server, a client, a helper, a sidecar).

        On the lab network by default; on none with ``Node(network=None)``; in the network namespace of
        the lab's container ``shares_network_with`` names (a sidecar), which must be running.
        """
        joins = None if node.shares_network_with is None else self.containers[node.shares_network_with]
        for volume in node.volumes:
            # Made here, labelled, before Docker would make an unlabelled one on first mount.
            name = self.topology.volume_name(volume)
            if not self.docker.volumes.list(filters={"name": f"^{name}$"}):
                self.docker.volumes.create(name, labels=self.labels)
        container = LabContainer(
            node,
            name=self.topology.container_name(node.role),
            network=self.network,
            labels=self.labels,
            volumes={self.topology.volume_name(v): path for v, path in node.volumes.items()},
            joins=joins,
            docker_timeout=self.docker_timeout,
        )
        self.containers[node.role] = container
        container.start(self.docker, wait, on_start=self._kernel_started if self._kernel_streams else None)
        self._record_host(node, container)
        return container

    def accepting(self, port: int | None = None) -> WaitStrategy:
        """Readiness for ``add``: ``port`` (the lab's by default) accepts a connection on the lab network."""
        assert self.network is not None, "start the lab first"
        return ConnectWaitStrategy(port or self.port, self.network.name).with_startup_timeout(
            timedelta(seconds=self.startup_timeout)
        )

    def container(self, role: str) -> LabContainer:
        return self.containers[role]

    def adopt(self, container: Container | str, *, role: str | None = None) -> LabContainer:
        """A running container this lab did not make, as a target for sidecars (``shares_network_with``
        its role, ``target-N`` unless given); leaving the lab never removes it."""
        sdk = self.docker.containers.get(container) if isinstance(container, str) else container
        adopted = LabContainer.adopted(sdk, role or self.new_role("target"))
        self.containers[adopted.node.role] = adopted
        return adopted

    def new_role(self, prefix: str) -> str:
        """A role no container of this lab has had yet: ``prefix-1``, ``prefix-2``… (safe across threads)."""
        return f"{prefix}-{next(self._roles)}"

    def add_attached(self, node: Node) -> tuple[LabContainer, socket.socket]:
        """``add``, with the container's stdin attached (a helper the host writes to); the container goes
        again if its stdin cannot be attached."""
        container = self.add(node)
        try:
            return container, container.attach_stdin()
        except BaseException:
            self.remove(container)
            raise

    def remove(self, container: LabContainer) -> None:
        """Remove one container now (idempotent) and forget its role."""
        self._kernel_removed(container)
        container.remove()
        self.containers.pop(container.node.role, None)

    def run_once(self, node: Node, *, timeout: float = 60) -> ClientRun:
        """Start a one-shot container, wait until it exits (killed after ``timeout``), read it, remove it."""
        return self._finish(self.add(node), timeout)

    def _finish(self, container: LabContainer, timeout: float) -> ClientRun:
        try:
            exit_code = container.wait(timeout)
            stdout, stderr = container.stdout_and_stderr()
            run = ClientRun(container.name, exit_code, stdout, stderr, role=container.node.role)
            self._record_client(container.node.role, container.node.image, run)
            return run
        finally:
            self.remove(container)

    def start_server(self, image: str, *, role: str = SERVER, alias: str = SERVER) -> LabContainer:
        """Start a server under the alias ``server`` (or ``alias``) and wait until it accepts a connection.

        A second call replaces nobody: the old server keeps running until it is stopped (see swap).
        """
        node = self.topology.server(image, env={**self.server_env, **self.kernel_server_env()}, role=role, alias=alias)
        self.server = self.add(node, wait=self.accepting())
        self.progress(f"server {image} accepts connections at {self.server_address()}:{self.port}")
        return self.server

    # --- what a test or the CLI asks of it ----------------------------------------------------------
    def server_address(self) -> str:
        """The server container's address on the lab network (reachable from the host on Linux)."""
        assert self.server is not None
        return self.server.address()

    def server_logs(self) -> str:
        assert self.server is not None
        return self.server.logs()

    def wait_for_server_log(self, pattern: str, timeout: float = 30) -> None:
        """Wait until the server's log matches ``pattern`` (a regex); fail if it exits first."""
        assert self.server is not None
        self.server.wait_for_log(pattern, timeout)

    def stop_server(self, timeout: float = 15) -> int:
        """``docker stop`` the server (SIGTERM, then SIGKILL after ``timeout``); return its exit code."""
        assert self.server is not None
        return self.server.stop(timeout)

    def has_start_barrier(self, image: str) -> bool:
        """Whether the client image is ours in Python, whose clients can wait for a go signal."""
        require_image(self.docker, image)
        labels = self.docker.images.get(image).labels or {}
        return labels.get("io.socklab.role") == "client" and labels.get("io.socklab.impl") == "python"

    def start_clients(
        self,
        count: int,
        *,
        char: str = "A",
        env: Mapping[str, str] | None = None,
        image: str | None = None,
        together: bool | None = None,
    ) -> list[LabContainer]:
        """Start ``count`` client containers (``START_WORKERS`` ``docker start`` calls in flight).

        ``together`` (the default for our Python client): each client waits at a start barrier until
        every one of them is up, then all connect at one signal. dockerd starts only a few containers a
        second here, so without it 50 clients would arrive over many seconds, not at once.
        """
        image = image or self.client_image
        if image is None:
            raise ValueError("no client image: pass image= or make the Lab with client_image=")
        together = self.has_start_barrier(image) if together is None else together
        first = self._clients_started
        self._clients_started += count
        knobs = ClientConfig(char=char, wait_for_go=True) if together else ClientConfig(char=char)
        nodes = [
            self.topology.client(first + k + 1, image, env={**knobs.to_env(), **(env or {})}) for k in range(count)
        ]
        started = 0

        def start(node: Node) -> LabContainer:
            nonlocal started
            container = self.add(node)
            started += 1
            if started % 10 == 0 or started == count:
                self.progress(f"started {started}/{count} clients")
            return container

        with ThreadPoolExecutor(START_WORKERS) as pool:
            containers = list(pool.map(start, nodes))
            if together:
                list(pool.map(lambda c: c.wait_for_log(wire.READY_LINE, timeout=60, literal=True), containers))
                list(pool.map(lambda c: c.signal(wire.GO_SIGNAL), containers))
                self.progress(f"all {count} clients released at once")
        return containers

    def collect(self, containers: list[LabContainer], timeout: float | None = None) -> list[ClientRun]:
        """Wait until each client exits (killing it after ``timeout``), read its output, remove it."""
        timeout = timeout or (30 + self.delay * 2 + 30)
        runs = []
        try:
            for container in containers:
                runs.append(self._finish(container, timeout))
                if len(runs) % 10 == 0 or len(runs) == len(containers):
                    self.progress(f"{len(runs)}/{len(containers)} clients exited")
        finally:
            for container in containers[len(runs) :]:  # what an error or Ctrl-C left unread
                self.remove(container)
        self.client_runs.extend(runs)
        return runs

    def run_clients(
        self,
        count: int,
        *,
        char: str = "A",
        env: Mapping[str, str] | None = None,
        image: str | None = None,
        timeout: float | None = None,
        together: bool | None = None,
    ) -> list[ClientRun]:
        """Start ``count`` client containers at once, wait until each exits, collect and remove them."""
        containers = self.start_clients(count, char=char, env=env, image=image, together=together)
        return self.collect(containers, timeout)


def foreign_lab(purpose: str) -> Lab:
    """A lab with no network and no server, for sidecars over containers it did not make (``adopt``)."""
    return Lab(server_image=None, purpose=purpose, own_network=False, reap=False)
