"""Shared fixtures. Lab tests (marked ``lab``) build the images once per session under this session's
labels and remove every container, network and image they made at the end, also after a failure or
Ctrl-C (pytest runs session finalizers on KeyboardInterrupt)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import docker
import docker.errors
import pytest

from socklab.images import ImageSet, build_images, ensure_base
from socklab.labels import new_run_id, remove_run, run_labels
from socklab.progress import to_stderr

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--server-image",
        action="append",
        default=[],
        metavar="IMAGE",
        help="run the lab tests against this server image instead of one built from the tree (repeatable)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "server_image" in metafunc.fixturenames:
        given = metafunc.config.getoption("--server-image")
        metafunc.parametrize("server_image", given or ["built"], indirect=True, scope="session")


@pytest.fixture(scope="session")
def session_id() -> str:
    return new_run_id()


@pytest.fixture(scope="session")
def docker_client(session_id: str) -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        message = f"the Docker engine is not usable: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)  # in CI a lab test that cannot run is a failure, never a skip
        pytest.skip(message)
    try:
        yield client
    finally:
        removed = remove_run(client, session_id)
        if removed:
            print(f"\nsocklab: removed what the session left: {', '.join(removed)}")
        client.close()


@pytest.fixture(scope="session")
def lab_images(docker_client: docker.DockerClient, session_id: str) -> ImageSet:
    """The server and client images built from this tree, tagged and labelled for this session only."""
    ensure_base(docker_client, "socklab/base:latest", progress=to_stderr("tests"))
    return build_images(
        docker_client,
        repository_prefix="socklab-test",
        tag=session_id,
        labels=run_labels(session_id, "test"),
        progress=to_stderr("tests"),
    )


@pytest.fixture(scope="session")
def server_image(request: pytest.FixtureRequest, lab_images: ImageSet) -> str:
    """The server image under test: the one built from the tree, or each ``--server-image``."""
    return lab_images.server if request.param == "built" else request.param


@pytest.fixture(scope="session")
def client_image(lab_images: ImageSet) -> str:
    return lab_images.client


@pytest.fixture(scope="session")
def is_socklab_python_server(docker_client: docker.DockerClient, server_image: str) -> bool:
    """Whether the server under test is one of ours in Python (its log format and SIGTERM drain are known)."""
    labels = docker_client.images.get(server_image).labels or {}
    return labels.get("io.socklab.role") == "server" and labels.get("io.socklab.impl") == "python"
