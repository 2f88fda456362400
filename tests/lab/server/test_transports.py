"""The server images on the other transports, in real containers: UDP from the host, Unix across containers.

Each runs in a ``Lab``: labelled, its named volume made and removed with it, also after a failure.
"""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from socklab.lab.lab import Lab
from socklab.lab.topology import Node
from socklab.wire import DEFAULT_PORT, DEFAULT_SOCKET_PATH, parse_served_log

pytestmark = pytest.mark.lab

SOCKET_DIR = DEFAULT_SOCKET_PATH.rsplit("/", 1)[0]


def test_the_async_image_answers_a_udp_datagram_a_with_b(lab_images):
    with Lab(server_image=None, delay=0.2, purpose="test") as lab:
        server = lab.add(lab.topology.server(lab_images.servers["async"], env={"SOCKLAB_TRANSPORT": "udp"}))
        server.wait_for_log(f"listening on 0.0.0.0:{DEFAULT_PORT} (udp", timeout=30, literal=True)
        address = server.address()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.settimeout(10)
            sender.sendto(b"A", (address, DEFAULT_PORT))
            answer, source = sender.recvfrom(16)
        server.wait_for_log("served ", timeout=30, literal=True)
        log = server.logs()
    assert (answer, source) == (b"B", (address, DEFAULT_PORT))
    [record] = parse_served_log(log)
    assert (record.request, record.reply) == (0x41, 0x42)


def test_a_server_and_a_client_container_talk_over_a_unix_socket_on_a_shared_volume(lab_images):
    socket_volume = {"socket": SOCKET_DIR}
    with Lab(server_image=None, delay=0.2, purpose="test") as lab:
        # No network at all: only the socket file on the shared volume joins the two containers.
        node = lab.topology.server(lab_images.servers["fork"], env={"SOCKLAB_TRANSPORT": "unix"})
        server = lab.add(replace(node, network=None, aliases=(), volumes=socket_volume))
        server.wait_for_log(f"listening on {DEFAULT_SOCKET_PATH} (unix", timeout=30, literal=True)
        client = Node("client-1", lab_images.client, {"SOCKLAB_TRANSPORT": "unix"}, network=None, volumes=socket_volume)
        run = lab.run_once(client, timeout=60)
        server.wait_for_log("served unix:", timeout=30, literal=True)
        log = server.logs()
    assert run.exit_code == 0, run.stderr
    assert run.stdout.startswith("char from server = B"), run.stdout + run.stderr
    assert "server /run/socklab/socklab.sock" in run.stdout
    [record] = parse_served_log(log)
    assert (record.peer.address, record.request, record.reply) == ("unix", 0x41, 0x42)
