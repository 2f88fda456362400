"""Fixtures for the fault tests: the tools image, a foreign container (not made by a Lab, not one of our
server images), and the ``socklab`` command as a process that can be interrupted or killed.

Tests marked ``faults`` (the full matrix) run only when asked for: ``-m faults`` or ``socklab faults``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import docker
import pytest
from docker.models.containers import Container

from socklab.lab.labels import run_labels
from socklab.lab.sidecar import tools_image
from socklab.progress import to_stderr
from support_faults import LISTENER, Command, wait_until_listening


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "faults" in (config.option.markexpr or ""):
        return
    heavy = pytest.mark.skip(reason="the full fault matrix: run it with -m faults (or `socklab faults`)")
    for item in items:
        if item.get_closest_marker("faults"):
            item.add_marker(heavy)


@pytest.fixture(scope="session")
def tools(docker_client: docker.DockerClient) -> str:
    return tools_image(docker_client, progress=to_stderr("tests"))


@pytest.fixture
def foreign(docker_client: docker.DockerClient, session_id: str) -> Iterator[Container]:
    """A plain container from socklab/base running a tiny Python listener, on a network of its own."""
    labels = run_labels(session_id, "test")
    network = docker_client.networks.create(f"socklab-faults-{session_id}-{time.monotonic_ns()}", labels=labels)
    container = docker_client.containers.run(
        "socklab/base:latest",
        ["python3", "-c", LISTENER],
        name=f"socklab-faults-foreign-{time.monotonic_ns()}",
        labels=labels,
        network=network.name,
        detach=True,
    )
    try:
        wait_until_listening(container)
        yield container
    finally:
        container.remove(force=True)
        network.remove()


@pytest.fixture
def socklab_command() -> Iterator[type[Command]]:
    started: list[Command] = []

    class Tracked(Command):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            started.append(self)

    yield Tracked
    for command in started:
        if command.process.poll() is None:
            command.process.kill()
            command.process.wait()
