"""The server images on the other transports, in real containers: UDP from the host, Unix across containers.

Everything here carries the session's labels; the named volume (which ``remove_run`` does not cover) is
removed by its own context manager, also after a failure.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import docker
import docker.errors
import pytest
from docker.models.containers import Container

from socklab.lab.labels import run_labels
from socklab.wire import DEFAULT_PORT, DEFAULT_SOCKET_PATH, parse_served_log

pytestmark = pytest.mark.lab

SOCKET_DIR = DEFAULT_SOCKET_PATH.rsplit("/", 1)[0]


@contextmanager
def removed_after(resource: docker.models.resource.Model) -> Iterator[None]:
    try:
        yield
    finally:
        with suppress(docker.errors.NotFound):
            if isinstance(resource, Container):
                resource.remove(force=True)
            else:
                resource.remove()


def wait_for_line(container: Container, text: str, timeout: float = 30) -> str:
    """The container's log once it holds ``text``; fails with the log if it never does (or the container ends)."""
    deadline = time.monotonic() + timeout
    while True:
        log = container.logs().decode(errors="replace")
        if text in log:
            return log
        container.reload()
        if container.status not in ("created", "running") or time.monotonic() > deadline:
            pytest.fail(f"{container.name} ({container.status}) never logged {text!r}:\n{log[-3000:]}")
        time.sleep(0.05)  # polling the log for the line, with a deadline


def test_the_async_image_answers_a_udp_datagram_a_with_b(docker_client, lab_images, session_id):
    labels = run_labels(session_id, "test")
    network = docker_client.networks.create(f"socklab-wire-{session_id}-udp", labels=labels)
    with removed_after(network):
        server = docker_client.containers.run(
            lab_images.servers["async"],
            name=f"socklab-wire-{session_id}-udp-server",
            environment={"SOCKLAB_TRANSPORT": "udp", "SOCKLAB_DELAY": "0.2"},
            network=network.name,
            labels=labels,
            detach=True,
        )
        with removed_after(server):
            wait_for_line(server, "listening on 0.0.0.0:9736 (udp")
            server.reload()
            address = server.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                sender.settimeout(10)
                sender.sendto(b"A", (address, DEFAULT_PORT))
                answer, source = sender.recvfrom(16)
            log = wait_for_line(server, "served ")
    assert (answer, source) == (b"B", (address, DEFAULT_PORT))
    [record] = parse_served_log(log)
    assert (record.request, record.reply) == (0x41, 0x42)


def test_a_server_and_a_client_container_talk_over_a_unix_socket_on_a_shared_volume(
    docker_client, lab_images, session_id
):
    labels = run_labels(session_id, "test")
    volume = docker_client.volumes.create(name=f"socklab-wire-{session_id}-socket", labels=labels)
    mount = {volume.name: {"bind": SOCKET_DIR, "mode": "rw"}}
    with removed_after(volume):
        server = docker_client.containers.run(
            lab_images.servers["fork"],
            name=f"socklab-wire-{session_id}-unix-server",
            environment={"SOCKLAB_TRANSPORT": "unix", "SOCKLAB_DELAY": "0.2"},
            volumes=mount,
            network_mode="none",  # no network at all: only the socket file joins the two containers
            labels=labels,
            detach=True,
        )
        with removed_after(server):
            wait_for_line(server, f"listening on {DEFAULT_SOCKET_PATH} (unix")
            client = docker_client.containers.run(
                lab_images.client,
                name=f"socklab-wire-{session_id}-unix-client",
                environment={"SOCKLAB_TRANSPORT": "unix"},
                volumes=mount,
                network_mode="none",
                labels=labels,
                detach=True,
            )
            with removed_after(client):
                status = client.wait(timeout=60)["StatusCode"]
                out = client.logs(stdout=True, stderr=False).decode(errors="replace")
                err = client.logs(stdout=False, stderr=True).decode(errors="replace")
            log = wait_for_line(server, "served unix:")
    assert status == 0, err
    assert out.startswith("char from server = B"), out + err
    assert "server /run/socklab/socklab.sock" in out
    [record] = parse_served_log(log)
    assert (record.peer.address, record.request, record.reply) == ("unix", 0x41, 0x42)
