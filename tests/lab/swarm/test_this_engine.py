"""``socklab swarm up --clients 3 --init`` then ``down`` on this (shared) engine: 3 × 'B', and the engine is
back in no swarm, with none of swarm's networks left. Skipped when the engine is already in a swarm: socklab
never touches a swarm it did not make."""

from __future__ import annotations

import docker
import pytest

from socklab.images.build import ImageSet
from socklab.swarm.host import GWBRIDGE, local_state, made_by_socklab
from socklab.swarm.run import SwarmUpOptions, down_this_engine, run_swarm_up
from socklab.swarm.stack import STACK_NAME

# `alone`: a swarm init or leave on this engine breaks the name resolution of every running container on a
# bridge network (moby#45144), so make test runs this after everything else.
pytestmark = [pytest.mark.lab, pytest.mark.swarm, pytest.mark.alone]

SWARM_NETWORKS = ("ingress", GWBRIDGE, f"{STACK_NAME}_lab")


def _swarm_networks(client: docker.DockerClient) -> set[str]:
    return {n.name for n in client.networks.list() if n.name in SWARM_NETWORKS}


def test_init_deploys_on_a_one_node_swarm_and_down_leaves_it(
    docker_client: docker.DockerClient, lab_images: ImageSet
) -> None:
    if local_state(docker_client) != "inactive":
        pytest.skip("this engine is in a swarm already: socklab does not touch a swarm it did not make")
    networks_before = _swarm_networks(docker_client)
    options = SwarmUpOptions(
        clients=3, init=True, delay=2.0, server_image=lab_images.server, client_image=lab_images.client
    )
    try:
        report = run_swarm_up(options=options)
        assert made_by_socklab(docker_client) is not None
        assert [row.result.received_char if row.result else row.error for row in report.run.rows] == ["B"] * 3
        assert report.run.verdict.concurrent, report.run.verdict.summary()
        assert "made by socklab" in report.where
    finally:
        done = down_this_engine(docker_client)
    assert "left the one-node swarm socklab had made" in done
    assert local_state(docker_client) == "inactive"
    assert _swarm_networks(docker_client) == networks_before
