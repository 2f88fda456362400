"""A partition between two swarm nodes breaks the exchange across it, and healing it brings the answers back."""

from __future__ import annotations

from dataclasses import replace

import docker
import pytest

from socklab.images.build import ImageSet
from socklab.swarm.cluster import DindCluster
from socklab.swarm.partition import Partition
from socklab.swarm.stack import CLIENT_SERVICE, StackSettings, deploy, run_stack, wait_for_server
from wire.served import parse_served

pytestmark = [pytest.mark.lab, pytest.mark.swarm]


def test_a_partition_between_nodes_breaks_and_heals_the_exchange(
    docker_client: docker.DockerClient, lab_images: ImageSet, session_id: str
) -> None:
    settings = StackSettings(
        server_image=lab_images.server,
        client_image=lab_images.client,
        clients=2,
        delay=1.0,
        server_constraints=("node.hostname==node1",),
        client_constraints=("node.hostname==node2",),
    )
    with DindCluster(docker_client, nodes=2, run_id=session_id, purpose="test") as cluster:
        cluster.distribute([lab_images.server, lab_images.client])
        manager, node1, node2 = cluster.client(cluster.manager), cluster.nodes[0], cluster.nodes[1]
        deploy(node1.base_url, replace(settings, clients=0))  # the server first, so only the cut can fail
        wait_for_server(manager)

        # With the overlay between node2 and node1 cut, clients that find the server by name cannot reach it.
        with Partition(docker_client, inside=node2, other=node1) as partition:
            cut = run_stack(manager, node1.base_url, replace(settings, connect_deadline=3.0))
            assert cluster.ready_nodes() == {"node1", "node2"}  # the swarm itself still works
        assert "healed" in partition.report()
        assert len(cut.rows) == 2 and not any(row.ok for row in cut.rows), [row.result for row in cut.rows]
        assert {row.result.outcome for row in cut.rows if row.result} <= {"no-connection", "timeout"}
        assert [r for line in cut.server_log.splitlines() if (r := parse_served(line))] == []

        # Healed: the same server, new clients on the same node, and every one is answered.
        manager.services.get(CLIENT_SERVICE).remove()
        healed = run_stack(manager, node1.base_url, settings)
        assert [row.result.received_char if row.result else row.error for row in healed.rows] == ["B", "B"]
        assert {row.node for row in healed.rows} == {"node2"}
