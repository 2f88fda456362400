"""A swarm of Docker engines on one machine: Docker-in-Docker nodes on a private bridge, as a context manager.

Each node is a container of the node image (``node_image``) running its own dockerd, with its own
``/var/lib/docker`` on a named volume (overlay2 works on a volume, not on the host's fuse-overlayfs), a fixed
address on a user bridge, and its API socket in a host folder, so that the host drives every engine through
the docker SDK like any other engine. Node 1 initialises the swarm and the others join it: real engines,
a real raft, a real VXLAN overlay between them. Everything is labelled with the cluster's run id and removed
on leaving, also after a failure or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import docker
import docker.errors
import docker.types
from docker.models.containers import Container

from socklab.lab.labels import PURPOSE, new_run_id, run_labels
from socklab.progress import Progress, quiet
from socklab.swarm.node_image import SOCKET_DIR, ensure_node_image

NODE_LABEL = "io.socklab.swarm-node"  # on each node container: its number, 1 = the manager
CLUSTER_LABEL = "io.socklab.swarm-cluster"  # on everything a cluster makes: its id (several may share a run id)
SOCKETS_ROOT = Path("/run/socklab-swarm")  # the host folder holding each node's API socket
SUBNETS = [f"10.213.{k}.0/24" for k in range(256)]  # candidates for the nodes' bridge; taken ones are skipped
SWARM_PORT = 2377
START_TIMEOUT = 60.0  # a node's dockerd is up in about 1 s here; a cold, busy machine may take far longer
READY_TIMEOUT = 60.0  # all nodes Ready in the manager's view (about 1–2 s here)

# Docker-in-Docker without --privileged, which fails on this host (its bounding set lacks CAP_SYS_RESOURCE,
# and Docker 20.10 ignores --cap-drop with --privileged): every other capability, no seccomp or masked
# /proc and /sys paths, access to every device node. The entry script remounts /sys and the cgroups rw.
NODE_RUN_OPTIONS: dict[str, object] = {
    "cap_add": ["ALL"],
    "cap_drop": ["SYS_RESOURCE"],
    "security_opt": ["seccomp=unconfined"],
    "device_cgroup_rules": ["a *:* rwm"],
}
# `--security-opt systempaths=unconfined` is a CLI spelling: the API takes empty masked and read-only paths.
UNMASKED_PATHS: dict[str, list[str]] = {"MaskedPaths": [], "ReadonlyPaths": []}


class ClusterError(RuntimeError):
    """A node did not start, or the swarm did not form; the message carries the node's last log lines."""


@dataclass(frozen=True)
class Node:
    number: int
    hostname: str  # the engine's host name, which is also its swarm node name: node1, node2, …
    address: str  # on the nodes' bridge: the swarm's advertise address
    container: str  # the node container's name on the host engine
    socket: Path  # the node's API socket, bind-mounted out of the node

    @property
    def base_url(self) -> str:
        return f"unix://{self.socket}"

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.base_url)


@dataclass(frozen=True)
class Distribution:
    """What the cluster did to put images on its nodes: each image and the nodes it was loaded into."""

    loads: tuple[tuple[str, tuple[str, ...]], ...]
    megabytes: float
    seconds: float

    def summary(self) -> str:
        where = "; ".join(f"{image} into {', '.join(nodes)}" for image, nodes in self.loads)
        return (
            f"docker save on this engine | docker load into the nodes, through the SDK: {where} "
            f"({self.megabytes:.0f} MB saved) in {self.seconds:.1f} s"
        )


class DindCluster:
    """``with DindCluster(host, nodes=3) as cluster:`` a formed swarm of ``nodes`` engines; gone afterwards."""

    def __init__(
        self,
        host: docker.DockerClient,
        *,
        nodes: int = 3,
        run_id: str | None = None,
        purpose: str = "swarm",
        form_swarm: bool = True,
        install_missing: bool = False,  # consent to install debootstrap on the host for the node image
        progress: Progress = quiet,
    ) -> None:
        if nodes < 1:
            raise ValueError("a cluster needs at least one node")
        self.host = host
        self.size = nodes
        self.id = new_run_id()
        self.labels = {**run_labels(run_id or self.id, purpose), CLUSTER_LABEL: self.id}
        self.form_swarm = form_swarm
        self.install_missing = install_missing
        self.progress = progress
        self.nodes: list[Node] = []
        self.formation_seconds: float | None = None  # swarm init to every node Ready
        self._clients: dict[str, docker.DockerClient] = {}

    # -- the context manager -------------------------------------------------------------------------------

    def __enter__(self) -> DindCluster:
        try:
            self.start()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()

    @property
    def manager(self) -> Node:
        return self.nodes[0]

    def client(self, node: Node) -> docker.DockerClient:
        if node.hostname not in self._clients:
            self._clients[node.hostname] = node.client()
        return self._clients[node.hostname]

    # -- bringing it up --------------------------------------------------------------------------------------

    def start(self) -> None:
        image = ensure_node_image(self.host, install_missing=self.install_missing, progress=self.progress)
        network, subnet = self._create_network()
        prefix = subnet.rsplit(".", 1)[0]
        started = time.monotonic()
        for number in range(1, self.size + 1):
            self.nodes.append(self._create_node(image, network, number, f"{prefix}.{number + 1}"))
        with ThreadPoolExecutor(max_workers=self.size) as pool:
            list(pool.map(self._start_node, self.nodes))
        self.progress(f"{self.size} engines up in {time.monotonic() - started:.1f} s on {subnet}")
        if self.form_swarm:
            self._form_swarm()

    def _create_network(self) -> tuple[str, str]:
        """A bridge of our own with a fixed subnet, so that nodes get fixed addresses (skip subnets in use)."""
        name = f"socklab-swarm-{self.id}-nodes"
        candidates = random.sample(SUBNETS, 32)  # random: concurrent clusters seldom try the same one first
        for subnet in candidates:
            ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)])
            try:
                self.host.networks.create(name, driver="bridge", ipam=ipam, labels=self.labels)
            except docker.errors.APIError as exc:
                if "overlap" in str(exc).lower():
                    continue
                raise
            return name, subnet
        raise ClusterError(f"no free /24 among {len(candidates)} tried in 10.213.0.0/16 for the nodes' bridge")

    def _create_node(self, image: str, network: str, number: int, address: str) -> Node:
        hostname = f"node{number}"
        name = f"socklab-swarm-{self.id}-{hostname}"
        socket_dir = SOCKETS_ROOT / self.id / hostname
        socket_dir.mkdir(parents=True, exist_ok=True)
        labels = {**self.labels, NODE_LABEL: str(number)}
        volume = self.host.volumes.create(f"{name}-docker", labels=labels)
        api = self.host.api
        host_config = api.create_host_config(
            binds={volume.name: {"bind": "/var/lib/docker", "mode": "rw"}, str(socket_dir): {"bind": SOCKET_DIR}},
            **NODE_RUN_OPTIONS,
        )
        host_config.update(UNMASKED_PATHS)
        endpoint = api.create_endpoint_config(ipv4_address=address)
        api.create_container(
            image,
            name=name,
            hostname=hostname,
            labels=labels,
            host_config=host_config,
            networking_config=api.create_networking_config({network: endpoint}),
        )
        return Node(number, hostname, address, name, socket_dir / "docker.sock")

    def _start_node(self, node: Node) -> None:
        """Start the node and wait for its dockerd's "API listen" line on our socket, then ping it."""
        container = self.host.containers.get(node.container)
        container.start()
        ready_line = f"API listen on {SOCKET_DIR}/docker.sock"
        deadline = time.monotonic() + START_TIMEOUT
        while ready_line not in container.logs().decode(errors="replace"):
            container.reload()
            if container.status != "running" or time.monotonic() > deadline:
                raise ClusterError(f"{node.hostname}'s dockerd did not start ({container.status}):\n{_tail(container)}")
            time.sleep(0.05)
        self.client(node).ping()

    def _form_swarm(self) -> None:
        started = time.monotonic()
        manager = self.client(self.manager)
        address = self.manager.address
        manager.swarm.init(advertise_addr=address, listen_addr=f"{address}:{SWARM_PORT}")
        token = manager.swarm.attrs["JoinTokens"]["Worker"]
        for node in self.nodes[1:]:
            self.client(node).swarm.join(
                remote_addrs=[f"{address}:{SWARM_PORT}"],
                join_token=token,
                advertise_addr=node.address,
                listen_addr=f"{node.address}:{SWARM_PORT}",
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while (ready := self.ready_nodes()) != {n.hostname for n in self.nodes}:
            if time.monotonic() > deadline:
                raise ClusterError(f"only {sorted(ready)} of {self.size} nodes Ready after {READY_TIMEOUT:g} s")
            time.sleep(0.1)
        self.formation_seconds = time.monotonic() - started
        self.progress(f"swarm of {self.size} formed in {self.formation_seconds:.1f} s, manager {self.manager.hostname}")

    def ready_nodes(self) -> set[str]:
        """Host names of the nodes the manager sees as Ready."""
        nodes = self.client(self.manager).nodes.list()
        return {n.attrs["Description"]["Hostname"] for n in nodes if n.attrs["Status"]["State"] == "ready"}

    # -- images --------------------------------------------------------------------------------------------

    def distribute(self, images: Sequence[str] | Mapping[str, Sequence[Node]]) -> Distribution:
        """``docker save`` each image from the host engine and ``docker load`` it into nodes (no registry).

        ``images`` is a list (every node gets every image) or a plan: image -> the nodes that run it.
        """
        plan = images if isinstance(images, Mapping) else {image: self.nodes for image in images}
        started = time.monotonic()
        # named=tag: an image with several tags (server:latest = server:fork) would otherwise carry its first.
        tarballs = {tag: b"".join(self.host.images.get(tag).save(named=tag)) for tag in plan}

        def load(node: Node) -> None:
            for tag, nodes in plan.items():
                if node in nodes:
                    self.client(node).images.load(tarballs[tag])

        with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
            list(pool.map(load, self.nodes))
        loads = tuple((tag, tuple(n.hostname for n in nodes)) for tag, nodes in plan.items())
        megabytes = sum(len(t) for t in tarballs.values()) / 1e6
        return Distribution(loads, megabytes, time.monotonic() - started)

    # -- tearing it down -----------------------------------------------------------------------------------

    def remove(self) -> list[str]:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        return remove_cluster(self.host, self.id)


def remove_cluster(host: docker.DockerClient, cluster: str) -> list[str]:
    """Remove the node containers, their volumes, the bridge and the socket folders of ``cluster``.

    Removing a node container kills its dockerd and every task in it: they live in the node's namespaces.
    """
    selector = {"label": f"{CLUSTER_LABEL}={cluster}"}
    removed: list[str] = []

    def remove_node(container: Container) -> str | None:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)
            return f"container {container.name}"
        return None

    nodes = host.containers.list(all=True, filters=selector)
    with ThreadPoolExecutor(max_workers=max(1, len(nodes))) as pool:  # each takes a dockerd's shutdown
        removed += [done for done in pool.map(remove_node, nodes) if done]
    for volume in host.volumes.list(filters=selector):
        with contextlib.suppress(docker.errors.NotFound):
            volume.remove(force=True)
            removed.append(f"volume {volume.name}")
    for network in host.networks.list(filters=selector):
        with contextlib.suppress(docker.errors.NotFound):
            network.remove()
            removed.append(f"network {network.name}")
    shutil.rmtree(SOCKETS_ROOT / cluster, ignore_errors=True)
    with contextlib.suppress(OSError):  # the host folder too, unless another cluster still has its sockets there
        SOCKETS_ROOT.rmdir()
    return removed


def clusters(host: docker.DockerClient, purpose: str) -> set[str]:
    """Ids of the clusters (made for this purpose) that have node containers on the host engine."""
    found = host.containers.list(all=True, filters={"label": [CLUSTER_LABEL, f"{PURPOSE}={purpose}"]})
    return {c.labels[CLUSTER_LABEL] for c in found}


def _tail(container: Container, lines: int = 15) -> str:
    with contextlib.suppress(docker.errors.APIError):
        return bytes(container.logs(tail=lines)).decode(errors="replace")
    return ""
