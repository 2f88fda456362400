"""The rules for an engine's own swarm, proved on a throwaway Docker-in-Docker engine, not on the shared one.

socklab makes a swarm only on an engine in none, marks it, leaves only a swarm it marked, and a swarm it
did not make stays (only its stack goes). Here the engine is a lone DinD node, so breaking a rule could
not hurt anyone else's swarm.
"""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from conftest import INSTALL_MISSING
from socklab.swarm import host as host_swarm
from socklab.swarm.cluster import DindCluster

pytestmark = [pytest.mark.lab, pytest.mark.swarm]


@pytest.fixture(scope="module")
def lone_engine(docker_client: docker.DockerClient, session_id: str) -> Iterator[docker.DockerClient]:
    """A Docker engine of its own, in no swarm."""
    with DindCluster(
        docker_client, nodes=1, run_id=session_id, purpose="test", form_swarm=False, install_missing=INSTALL_MISSING
    ) as cluster:
        yield cluster.client(cluster.manager)


def test_init_makes_a_marked_one_node_swarm_and_leave_restores_the_engine(lone_engine: docker.DockerClient) -> None:
    assert host_swarm.local_state(lone_engine) == "inactive"
    with host_swarm.host_swarm_lock():
        host_swarm.init_one_node_swarm(lone_engine, "run-1")
        assert host_swarm.local_state(lone_engine) == "active"
        assert host_swarm.made_by_socklab(lone_engine) == "run-1"
        assert len(lone_engine.nodes.list()) == 1
        assert host_swarm.leave_if_made(lone_engine) is True
    assert host_swarm.local_state(lone_engine) == "inactive"
    assert not lone_engine.networks.list(names=[host_swarm.GWBRIDGE])


def test_a_swarm_socklab_did_not_make_is_never_left_nor_reinitialised(lone_engine: docker.DockerClient) -> None:
    lone_engine.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")  # someone else's swarm
    try:
        with host_swarm.host_swarm_lock():
            assert host_swarm.made_by_socklab(lone_engine) is None
            with pytest.raises(host_swarm.SwarmStateError, match="'active'"):
                host_swarm.init_one_node_swarm(lone_engine, "run-2")
            assert host_swarm.leave_if_made(lone_engine) is False
            host_swarm.require_swarm(lone_engine)  # usable as it is
        assert host_swarm.local_state(lone_engine) == "active"
    finally:
        lone_engine.swarm.leave(force=True)


def test_an_engine_in_no_swarm_is_told_how_to_make_one(lone_engine: docker.DockerClient) -> None:
    with pytest.raises(host_swarm.NotInSwarm, match=r"docker swarm init.*--init"):
        host_swarm.require_swarm(lone_engine)
