"""The stack across three real Docker engines on this machine: server on node1, clients on node2 and node3.

The engines are Docker-in-Docker nodes (``socklab.swarm.cluster``); the traffic between them crosses the
swarm's VXLAN overlay. The host engine's own swarm state must not change, and nothing may stay behind.
"""

from __future__ import annotations

import ipaddress

import docker
import pytest

from socklab.images.build import ImageSet
from socklab.swarm.cluster import CLUSTER_LABEL, SOCKETS_ROOT, DindCluster
from socklab.swarm.host import local_state
from socklab.swarm.stack import SERVER_SERVICE, STACK_NAME, StackSettings, node_names, run_stack
from wire.served import parse_served

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


def test_clients_on_two_engines_are_served_by_a_server_on_a_third(
    docker_client: docker.DockerClient, lab_images: ImageSet, session_id: str
) -> None:
    host_state = local_state(docker_client)
    settings = StackSettings(
        server_image=lab_images.server,
        client_image=lab_images.client,
        clients=CLIENTS,
        delay=DELAY,
        server_constraints=("node.hostname==node1",),
        client_constraints=("node.hostname!=node1",),
        spread_over=2,
    )
    with DindCluster(docker_client, nodes=3, run_id=session_id, purpose="test") as cluster:
        assert cluster.ready_nodes() == {"node1", "node2", "node3"}
        cluster.distribute([lab_images.server, lab_images.client])
        manager = cluster.client(cluster.manager)
        run = run_stack(manager, cluster.manager.base_url, settings)

        # Every client answered 'B', and they were served at the same time.
        assert [row.result.received_char if row.result else row.error for row in run.rows] == ["B"] * CLIENTS
        assert run.verdict.concurrent, run.verdict.summary()

        # The server ran on node1; the clients on node2 and node3, both of them.
        names = node_names(manager)
        server_nodes = {names[t["NodeID"]] for t in manager.services.get(SERVER_SERVICE).tasks()}
        assert server_nodes == {"node1"}
        assert {row.node for row in run.rows} == {"node2", "node3"}

        # The server saw each client at its overlay address: not the nodes' bridge, and from another engine.
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
        node_ips = {ipaddress.ip_address(n.address) for n in cluster.nodes}
        for ip, _port in clients:
            assert ipaddress.ip_address(ip) in overlay and ipaddress.ip_address(ip) not in node_ips
        cluster_id = cluster.id

    assert _leftovers(docker_client, cluster_id) == []
    assert local_state(docker_client) == host_state
