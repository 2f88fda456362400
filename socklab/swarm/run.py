"""``socklab swarm up`` and ``socklab swarm down`` as keyword-only library calls.

``up`` deploys the stack on this engine's swarm (``--init`` makes a one-node swarm first if there is none) or
on a swarm of Docker-in-Docker engines it builds (``--nodes N``: server on node1, clients on the others),
waits until every client task finished, and reports a row per client and the concurrency verdict. The stack
(and the DinD swarm) stays up for inspection; ``down`` removes it and leaves a swarm socklab made. When
``up`` fails or is interrupted it removes what it made before the error goes on.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import docker

from socklab.errors import engine, require_image
from socklab.events.options import RecordOptions
from socklab.lab.labels import new_run_id
from socklab.progress import Progress, quiet
from socklab.swarm import host as host_swarm
from socklab.swarm.cluster import DindCluster, Node, clusters, remove_cluster
from socklab.swarm.kernel import IPVS_NOTE, ipvs_available
from socklab.swarm.node_image import remove_node_images
from socklab.swarm.stack import StackError, StackRun, StackSettings, deployed, remove, run_stack
from socklab.wire.config import DELAY
from socklab.wire.knobs import check_fields, option

CLI_PURPOSE = "swarm"  # the label on DinD clusters made by `socklab swarm up --nodes N` (tests use their own)


@dataclass(frozen=True)
class SwarmUpOptions(RecordOptions):
    clients: int = option(3, "client tasks: the client service's replicas")
    server_image: str = option("socklab/server:latest", "server image", env="SERVER_IMAGE")
    client_image: str = option("socklab/client:latest", "client image", env="CLIENT_IMAGE")
    delay: float = option(5.0, "seconds the server waits before answering", metavar="SECONDS", rule=DELAY)
    init: bool = option(False, "if this engine is in no swarm, make it a one-node swarm (`swarm down` leaves it)")
    nodes: int = option(0, "build a swarm of N Docker-in-Docker engines on this machine instead (0: this engine)")
    server_constraint: tuple[str, ...] = option(
        (), "a placement constraint for the server on this engine's swarm, e.g. node.labels.socklab==server"
    )
    client_constraint: tuple[str, ...] = option((), "a placement constraint for the clients (repeatable)")
    json: bool = option(False, "print JSON instead of the table")
    install_missing: bool = option(False, "install debootstrap on this host when the node image needs it (apt-get)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.kernel:
            raise ValueError("--kernel observes a lab on this engine; a swarm's tasks run on other engines")
        if self.clients < 1:
            raise ValueError("--clients must be at least 1")
        if self.nodes < 0:
            raise ValueError("--nodes must be 0 (this engine's swarm) or more")
        if self.nodes and self.init:
            raise ValueError("--init is for this engine's swarm; --nodes builds a swarm of its own")
        check_fields(self)  # the delay's rule is the server's: finite, 0..86400 (NaN passed `delay < 0`)
        if self.nodes and (self.server_constraint or self.client_constraint):
            raise ValueError("--nodes places the server on node1 and the clients elsewhere itself")


@dataclass(frozen=True)
class UpReport:
    where: str  # which swarm: this engine's, made or found, or N DinD engines
    distribution: str  # what was done to get the images onto the nodes
    notes: tuple[str, ...]
    run: StackRun
    formation_seconds: float | None = None  # DinD only: swarm init to every node Ready
    keep: str = ""  # how to look at what stays up

    @property
    def ok(self) -> bool:
        return self.run.verdict.concurrent and all(row.ok for row in self.run.rows)


def _settings(options: SwarmUpOptions, *, nodes: int) -> StackSettings:
    """DinD swarms of 2+ nodes: server on node1, clients spread over the others; else the user's constraints."""
    pinned = nodes >= 2
    return StackSettings(
        server_image=options.server_image,
        client_image=options.client_image,
        clients=options.clients,
        delay=options.delay,
        server_constraints=("node.hostname==node1",) if pinned else options.server_constraint,
        client_constraints=("node.hostname!=node1",) if pinned else options.client_constraint,
        spread_over=nodes - 1 if pinned else 1,
    )


def _notes(host: docker.DockerClient) -> tuple[str, ...]:
    """The IPVS note, when the engine runs on this machine's kernel (a unix socket), which is all we can ask."""
    local = host.api.base_url.startswith("http+docker://local")
    return (IPVS_NOTE,) if local and not ipvs_available() else ()


def run_swarm_up(*, options: SwarmUpOptions, progress: Progress = quiet) -> UpReport:
    host = engine()
    images = [options.server_image, options.client_image]
    for image in images:
        require_image(host, image)
    if options.nodes:
        return _up_on_dind(host, options, progress)
    return _up_on_this_engine(host, options, progress)


def _up_on_this_engine(host: docker.DockerClient, options: SwarmUpOptions, progress: Progress) -> UpReport:
    with host_swarm.host_swarm_lock():
        made = ours = False
        if host_swarm.local_state(host) == "inactive" and options.init:
            progress("this engine is in no swarm: making a one-node swarm (advertised on 127.0.0.1)")
            host_swarm.init_one_node_swarm(host, new_run_id())
            made = True
        try:
            host_swarm.require_swarm(host)
            if deployed(host):
                raise StackError("a socklab stack is already deployed on this swarm: `socklab swarm down` first")
            nodes = host.nodes.list()
            progress(
                f"deploying the stack on this engine's swarm ({len(nodes)} node(s)) with {options.clients} clients"
            )
            ours = True  # from here on the stack is ours to remove if anything goes wrong
            run = run_stack(host, None, _settings(options, nodes=1))
        except BaseException:
            with contextlib.suppress(Exception):
                if ours and deployed(host):
                    remove(host, None)
            if made:
                host_swarm.leave_if_made(host)
            raise
    where = "this engine, a one-node swarm made by socklab" if made else f"this engine's swarm ({len(nodes)} node(s))"
    distribution = (
        "none needed: one engine, the images are already on it"
        if len(nodes) == 1
        else "none: every node needs the images, from a registry or `docker save IMAGE | ssh NODE docker load`"
    )
    keep = "the stack stays up (docker service ls); `socklab swarm down` removes it"
    return UpReport(where, distribution, _notes(host), run, keep=keep + (" and leaves the swarm" if made else ""))


def _placement(cluster: DindCluster, options: SwarmUpOptions) -> dict[str, list[Node]]:
    """Which nodes need which image: with 2+ nodes the server runs on node1 and the clients elsewhere."""
    nodes = cluster.nodes
    if len(nodes) == 1:
        return {options.server_image: nodes, options.client_image: nodes}
    if options.server_image == options.client_image:
        return {options.server_image: nodes}
    return {options.server_image: nodes[:1], options.client_image: nodes[1:]}


def _up_on_dind(host: docker.DockerClient, options: SwarmUpOptions, progress: Progress) -> UpReport:
    cluster = DindCluster(
        host, nodes=options.nodes, purpose=CLI_PURPOSE, install_missing=options.install_missing, progress=progress
    )
    try:
        cluster.start()
        distribution = cluster.distribute(_placement(cluster, options))
        progress(distribution.summary())
        manager = cluster.manager
        progress(f"deploying the stack on {manager.hostname} with {options.clients} clients")
        run = run_stack(cluster.client(manager), manager.base_url, _settings(options, nodes=options.nodes))
    except BaseException:
        cluster.remove()
        raise
    return UpReport(
        where=f"{options.nodes} Docker-in-Docker engines on this machine, one swarm",
        distribution=distribution.summary(),
        notes=_notes(host),
        run=run,
        formation_seconds=cluster.formation_seconds,
        keep=f"the swarm stays up: docker --host {manager.base_url} node ls; `socklab swarm down` removes it",
    )


def run_swarm_down(*, node_image: bool = False, progress: Progress = quiet) -> list[str]:
    """Remove what ``swarm up`` left: the DinD swarms it built, and on this engine its stack and a swarm it made;
    with ``node_image``, the cached node image too."""
    host = engine()
    done = down_dind(host, progress) + down_this_engine(host)
    return done + [f"image {tag}" for tag in remove_node_images(host)] if node_image else done


def down_dind(host: docker.DockerClient, progress: Progress = quiet) -> list[str]:
    done: list[str] = []
    for cluster in sorted(clusters(host, CLI_PURPOSE)):
        progress(f"removing the Docker-in-Docker swarm {cluster}")
        done += remove_cluster(host, cluster)
    return done


def down_this_engine(host: docker.DockerClient) -> list[str]:
    """Under the lock: remove the stack, then leave the swarm if (and only if) socklab made it."""
    done: list[str] = []
    with host_swarm.host_swarm_lock():
        if host_swarm.local_state(host) != "active" or not host.info()["Swarm"].get("ControlAvailable"):
            return done
        if deployed(host):
            remove(host, None)
            done.append("removed the stack socklab")
        if host_swarm.leave_if_made(host):
            done.append("left the one-node swarm socklab had made")
        else:
            done.append("this engine stays in its swarm (socklab did not make it)")
    return done
