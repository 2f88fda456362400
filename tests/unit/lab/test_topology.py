"""A topology names everything after its run and refuses contradictions before anything starts."""

from __future__ import annotations

import pytest

from socklab.lab.topology import LOCKED_DOWN, UNRESTRICTED, Node, Topology, TopologyError


def test_every_name_carries_the_run_id():
    topology = Topology("abc123")
    assert topology.network_name() == "socklab-abc123"
    assert topology.container_name("client-3") == "socklab-abc123-client-3"
    assert topology.volume_name("socket") == "socklab-abc123-socket"


def test_the_server_gets_the_lab_s_delay_and_port_and_the_alias_clients_dial():
    server = Topology("r", delay=1.5, port=7000).server("img", env={"SOCKLAB_MODEL": "thread"})
    assert server.aliases == ("server",)
    assert server.env == {"SOCKLAB_DELAY": "1.5", "SOCKLAB_PORT": "7000", "SOCKLAB_MODEL": "thread"}


@pytest.mark.parametrize("env", [{"SOCKLAB_DELAY": "3"}, {"SOCKLAB_PORT": "1234"}, {"SOCKLAB_DELAY": "soon"}])
def test_a_server_env_that_contradicts_the_lab_is_refused(env):
    with pytest.raises(TopologyError, match="contradicts"):
        Topology("r", delay=1.5).server("img", env=env)


def test_the_same_value_written_differently_is_no_contradiction():
    assert Topology("r", delay=2).server("img", env={"SOCKLAB_DELAY": "2.0"}).env["SOCKLAB_DELAY"] == "2.0"


def test_clients_dial_the_server_alias_and_print_json():
    client = Topology("r", port=7000).client(4, "img", env={"SOCKLAB_CHAR": "Z"})
    assert client.role == "client-4"
    assert client.env["SOCKLAB_SERVER"] == "server" and client.env["SOCKLAB_PORT"] == "7000"
    assert client.env["SOCKLAB_JSON"] == "true" and client.env["SOCKLAB_CHAR"] == "Z"


def test_locked_down_asks_docker_for_every_restriction():
    kwargs = LOCKED_DOWN.docker_kwargs()
    assert kwargs["read_only"] is True and kwargs["cap_drop"] == ["ALL"]
    assert kwargs["security_opt"] == ["no-new-privileges"]
    assert kwargs["pids_limit"] > 0 and kwargs["mem_limit"]
    assert "/tmp" in kwargs["tmpfs"] and "/run/socklab" in kwargs["tmpfs"]
    assert UNRESTRICTED.docker_kwargs() == {}


@pytest.mark.parametrize("place", [{"network": None}, {"shares_network_with": "server"}])
def test_a_container_without_a_network_of_its_own_cannot_have_an_alias(place):
    with pytest.raises(TopologyError, match="network of its own"):
        Node("sidecar", "img", aliases=("helper",), **place)
