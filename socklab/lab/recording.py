"""The Lab's part in the run's event log: which of its containers is who, and what each did, as events.

A mixin of ``Lab`` (lab.py), which owns the containers; here only what the recorder needs from them. Every
method is a no-op while no run is recorded (``events.active()`` is None).
"""

from __future__ import annotations

from collections.abc import Callable

import docker
from testcontainers.core.network import Network

from socklab.events.docker_watch import LabWatch
from socklab.events.lines import client_events
from socklab.events.recorder import Recorder
from socklab.events.schema import Kind
from socklab.lab.client_run import ClientRun
from socklab.lab.containers import LabContainer
from socklab.lab.labels import RUN
from socklab.lab.topology import SERVER, UPSTREAM, Node, Topology


class LabRecording:
    """What ``Lab`` records: its hosts, its clients' exchanges, and (``LabWatch``) its containers' lines."""

    # Set by Lab.__post_init__ / Lab.start.
    run_id: str
    port: int
    delay: float
    docker: docker.DockerClient
    network: Network | None
    topology: Topology
    containers: dict[str, LabContainer]
    host_prefix: str
    _recorder: Recorder | None
    _watch: LabWatch | None
    _kernel_restarted: Callable[[str, str], None]  # LabKernel's: a container started (again)

    def _start_watch(self) -> None:
        """Follow the engine's events and every server's log for this lab's run (when recorded)."""
        if self._recorder is not None:
            self._watch = LabWatch(
                self._recorder,
                label=f"{RUN}={self.run_id}",
                role_of=self._role_of,
                follows=self._is_server,
                image_of=self._image_of,
                prefix=self.host_prefix,
                probes_from=self._gateways(),
                on_start=self._kernel_restarted,
            ).start()

    def _record_host(self, node: Node, container: LabContainer) -> None:
        """Every host with its address as soon as it is up (the live view draws it before it has done
        anything); a server with its port and delay too. Sidecars in another's namespace are no host."""
        if self._recorder is None or container.network is None or node.shares_network_with is not None:
            return
        server = {"port": self.port, "delay": self.delay} if _serves(node) else {}
        self.emit(
            Kind.HOST,
            node.role,
            role=node.role,
            address=container.address(),
            image=node.image,
            network=container.network,
            started=True,
            **server,
        )

    def _gateways(self) -> frozenset[str]:
        """The lab network's gateway: where the readiness check (from this host) connects from."""
        if self.network is None:
            return frozenset()  # a lab of sidecars over containers it did not make (foreign_lab)
        sdk = self.docker.networks.get(self.network.name)
        return frozenset(c["Gateway"] for c in sdk.attrs.get("IPAM", {}).get("Config") or [] if c.get("Gateway"))

    def _role_of(self, name: str) -> str | None:
        prefix = self.topology.container_name("")
        return name.removeprefix(prefix) if name.startswith(prefix) else None

    def _is_server(self, role: str) -> bool:
        container = self.containers.get(role)
        return container is not None and _serves(container.node)

    def _image_of(self, role: str) -> str:
        container = self.containers.get(role)
        return "" if container is None else container.node.image

    def emit(self, kind: Kind, role: str = "", /, *, t: float | None = None, **data: object) -> None:
        """Record an event about one of this lab's hosts (``role``), when the run is being recorded."""
        if self._recorder is not None:
            self._recorder.emit(kind, self.host_prefix + role if role else "", t=t, **data)

    def _record_client(self, role: str, image: str, run: ClientRun) -> None:
        """A client's exchanges as events, from its result lines (or the classic line of a client without)."""
        if self._recorder is None or not role.startswith("client"):
            return  # a helper run once (a sidecar, a loader) is no client of the lesson's
        address = next((r.address for r in run.results if r.address), None)
        self.emit(
            Kind.HOST,
            role,
            role=role,
            address=address,
            image=image,
            version=image,
            network=self.topology.network_name(),
        )
        for result in run.results:
            for event in client_events(result):
                self.emit(event.kind, role, t=event.t, **event.data)
        if not run.results:
            received = run.received
            if received is not None and run.exit_code == 0:
                self.emit(Kind.ANSWERED, role, reply=ord(received), seconds=None, ok=True)
            else:
                self.emit(Kind.FAILED, role, error=run.describe()[-300:], seconds=None)


def _serves(node: Node) -> bool:
    """A server of the lab: under the alias clients dial, or under the proxy's upstream alias."""
    return bool({SERVER, UPSTREAM} & set(node.aliases)) and not node.role.startswith("impair")
