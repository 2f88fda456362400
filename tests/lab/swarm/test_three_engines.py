"""The stack across three real Docker engines on this machine: server on node1, clients on node2 and node3.

The engines are Docker-in-Docker nodes (``socklab.swarm.cluster``); the traffic between them crosses the
swarm's VXLAN overlay. One cluster serves the module's tests (forming it and loading the images is the slow
part); leaving it must leave nothing behind and the host engine's own swarm state as it was.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import replace

import docker
import pytest

from conftest import INSTALL_MISSING
from socklab.images.build import ImageSet
from socklab.swarm.cluster import CLUSTER_LABEL, SOCKETS_ROOT, DindCluster
from socklab.swarm.host import local_state
from socklab.swarm.partition import Partition
from socklab.swarm.stack import (
    CLIENT_SERVICE,
    SERVER_SERVICE,
    STACK_NAME,
    StackSettings,
    deploy,
    deployed,
    node_names,
    remove,
    run_stack,
    wait_for_server,
)
from socklab.wire.served import parse_served

pytestmark = [pytest.mark.lab, pytest.mark.swarm]

CLIENTS = 4
DELAY = 2.0


def _leftovers(client: docker.DockerClient, cluster: str) -> list[str]:
    selector = {"label": f"{CLUSTER_LABEL}={cluster}"}
    found = [f"container {c.name}" for c in client.containers.list(all=True, filters=selector)]
    found += [f"volume {v.name}" for v in client.volumes.list(filters=selector)]
    found += [f"network {n.name}" for n in client.networks.list(filters=selector)]
    found += [f"socket folder {SOCKETS_ROOT / cluster}"] if (SOCKETS_ROOT / cluster).exists() else []
    return found


@pytest.fixture(scope="module")
def engines(docker_client: docker.DockerClient, lab_images: ImageSet, session_id: str) -> Iterator[DindCluster]:
    """A formed swarm of three engines with the session's images loaded; checked to leave nothing behind."""
    host_state = local_state(docker_client)
    with DindCluster(
        docker_client, nodes=3, run_id=session_id, purpose="test", install_missing=INSTALL_MISSING
    ) as cluster:
        server, clients = cluster.nodes[0], cluster.nodes[1:]
        cluster.distribute({lab_images.server: [server], lab_images.client: clients})
        yield cluster
    assert _leftovers(docker_client, cluster.id) == []
    assert local_state(docker_client) == host_state


@pytest.fixture
def fresh(engines: DindCluster) -> DindCluster:
    """The cluster with no stack deployed."""
    if deployed(engines.client(engines.manager)):
        others = [engines.client(node) for node in engines.nodes if node is not engines.manager]
        remove(engines.client(engines.manager), engines.manager.base_url, engines=others)
    return engines


def _settings(images: ImageSet, **changes: object) -> StackSettings:
    base = StackSettings(
        server_image=images.server,
        client_image=images.client,
        clients=CLIENTS,
        delay=DELAY,
        server_constraints=("node.hostname==node1",),
        client_constraints=("node.hostname!=node1",),
        spread_over=2,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_clients_on_two_engines_are_served_by_a_server_on_a_third(fresh: DindCluster, lab_images: ImageSet) -> None:
    assert fresh.ready_nodes() == {"node1", "node2", "node3"}
    manager = fresh.client(fresh.manager)
    run = run_stack(manager, fresh.manager.base_url, _settings(lab_images))

    # Every client answered 'B', and they were served at the same time.
    assert [row.result.received_char if row.result else row.error for row in run.rows] == ["B"] * CLIENTS
    assert run.verdict.concurrent, run.verdict.summary()

    # The server ran on node1; the clients on node2 and node3, both of them.
    names = node_names(manager)
    assert {names[t["NodeID"]] for t in manager.services.get(SERVER_SERVICE).tasks()} == {"node1"}
    assert {row.node for row in run.rows} == {"node2", "node3"}

    # The server saw each client at its own overlay address and port: not a node's address, another engine.
    overlay = ipaddress.ip_network(manager.networks.get(f"{STACK_NAME}_lab").attrs["IPAM"]["Config"][0]["Subnet"])
    served = {(r.peer.address, r.peer.port) for line in run.server_log.splitlines() if (r := parse_served(line))}
    clients = {
        (ip, int(port))
        for row in run.rows
        if row.result and row.result.address
        for ip, port in [row.result.address.rsplit(":", 1)]
    }
    assert len(clients) == CLIENTS
    assert clients <= served, run.server_log
    node_ips = {ipaddress.ip_address(n.address) for n in fresh.nodes}
    for ip, _port in clients:
        assert ipaddress.ip_address(ip) in overlay and ipaddress.ip_address(ip) not in node_ips


def test_a_partition_between_nodes_breaks_and_heals_the_exchange(fresh: DindCluster, lab_images: ImageSet) -> None:
    # The same clients with the same short connect deadline in both rounds: only the partition differs.
    settings = _settings(
        lab_images,
        clients=2,
        delay=1.0,
        client_constraints=("node.hostname==node2",),
        spread_over=1,
        connect_deadline=5.0,
    )
    manager, node1, node2 = fresh.client(fresh.manager), fresh.nodes[0], fresh.nodes[1]
    deploy(node1.base_url, replace(settings, clients=0))  # the server first, so only the cut can fail
    wait_for_server(manager)

    # With the overlay between node2 and node1 cut, clients that find the server by name cannot reach it.
    with Partition(fresh.host, inside=node2, other=node1) as partition:
        cut = run_stack(manager, node1.base_url, settings)
        assert fresh.ready_nodes() == {"node1", "node2", "node3"}  # the swarm itself still works
    assert "healed" in partition.report()
    assert len(cut.rows) == 2 and not any(row.ok for row in cut.rows), [row.result for row in cut.rows]
    assert {row.result.outcome for row in cut.rows if row.result} <= {"no-connection", "timeout"}
    assert [r for line in cut.server_log.splitlines() if (r := parse_served(line))] == []

    # Healed: the same server, new clients on the same node, and every one is answered.
    manager.services.get(CLIENT_SERVICE).remove()
    healed = run_stack(manager, node1.base_url, settings)
    assert [row.result.received_char if row.result else row.error for row in healed.rows] == ["B", "B"]
    assert {row.node for row in healed.rows} == {"node2"}
