"""Shared fixtures. Before any test runs, one process (the controller, before any xdist worker starts)
prepares what the whole run shares (``support_session``): host packages, the Compose plugin, the base,
tools, probes and swarm node images, the C binaries, and under xdist the session's own images of every
version, built once for all workers. Lab tests (marked ``lab``) remove every container, network and image
they made at the end, also after a failure or Ctrl-C (pytest runs session finalizers on KeyboardInterrupt).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

import support_session
from socklab.images.build import ImageSet, ImageSpec, build, build_images, contract_versions, ensure_base
from socklab.lab import reaper
from socklab.lab.labels import RUN, new_run_id, remove_run, run_labels
from socklab.lab.sidecar import tools_image as tools_image_of
from socklab.paths import ROOT
from socklab.progress import to_stderr
from support_session import INSTALL_MISSING
from support_wheel import once

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

VERSIONS = contract_versions()  # the server versions built from the tree that keep the contract
__all__ = ["INSTALL_MISSING", "VERSIONS"]


def pytest_sessionstart(session: pytest.Session) -> None:
    support_session.start(session.config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    support_session.finish(session.config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    """xdist (controller): hand each worker what the controller prepared for the whole run."""
    support_session.configure_node(node)


# Markers of the long runs: their tests run only when the -m expression names the marker
# (`pytest -m heavy`, `pytest -m "faults or experiments"`); a plain `pytest` (make test) skips them, saying how.
OPT_IN = ("heavy", "experiments", "faults", "slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    asked = config.getoption("markexpr") or ""
    for item in items:
        for marker in OPT_IN:
            if item.get_closest_marker(marker) and marker not in asked:
                item.add_marker(pytest.mark.skip(reason=f"a long run: select it with -m {marker}"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--server-image",
        action="append",
        default=[],
        metavar="IMAGE",
        help=(
            "run the lab tests against this server image (repeatable); 'all' (the default) means every "
            f"version built from the tree: {', '.join(VERSIONS)}"
        ),
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "server_image" in metafunc.fixturenames:
        given = metafunc.config.getoption("--server-image") or ["all"]
        images = [version for image in given for version in (VERSIONS if image == "all" else (image,))]
        metafunc.parametrize("server_image", list(dict.fromkeys(images)), indirect=True, scope="session")


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
    reaper.watch(session_id)  # the session's images and volumes go even if pytest itself is killed
    try:
        yield client
    finally:
        removed = remove_run(client, session_id)
        reaper.done(session_id)
        if removed:
            print(f"\nsocklab: removed what the session left: {', '.join(removed)}")
        client.close()


@pytest.fixture(scope="session")
def run_folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder the whole run shares (every xdist worker gets the same one), for what is made once per run."""
    return support_session.shared_folder(request.config) or tmp_path_factory.mktemp("run")


@pytest.fixture(scope="session")
def lab_images(request: pytest.FixtureRequest, docker_client: docker.DockerClient, session_id: str) -> ImageSet:
    """Every server version and both clients built from this tree, tagged and labelled for this test run:
    under xdist, built once by the controller before the workers started; otherwise here, on first use."""
    shared = support_session.shared_images(request.config)
    if shared is not None:
        return shared
    ensure_base(docker_client, "socklab/base:latest", progress=to_stderr("tests"))
    return build_images(
        docker_client,
        repository_prefix="socklab-test",
        session=session_id,
        labels=run_labels(session_id, "test"),
        install_missing=INSTALL_MISSING,
        progress=to_stderr("tests"),
    )


@pytest.fixture(scope="session")
def tools_image(docker_client: docker.DockerClient) -> str:
    """``socklab/tools:latest``, built only when a test asks for it, and rebuilt when its policy changed; or
    the image ``SOCKLAB_TOOLS_IMAGE`` names, as is (what the lab's sidecars then run too).

    Like the base it is an input built from Debian packages (not from the tree's code), so it is shared
    with the user's runs rather than built per session.
    """
    return tools_image_of(docker_client, progress=to_stderr("tests"))


@pytest.fixture(scope="session")
def server_image(request: pytest.FixtureRequest, lab_images: ImageSet) -> str:
    """The server image under test: a version built from the tree, or an image given by tag."""
    return lab_images.servers.get(request.param, request.param)


@pytest.fixture(scope="session")
def client_image(lab_images: ImageSet) -> str:
    return lab_images.client


@pytest.fixture(scope="session")
def server_labels(docker_client: docker.DockerClient, server_image: str) -> dict[str, str]:
    return docker_client.images.get(server_image).labels or {}


@pytest.fixture(scope="session")
def is_socklab_server(server_labels: dict[str, str]) -> bool:
    """One of ours (Python or C): its log names each peer it served."""
    return server_labels.get("io.socklab.role") == "server"


@pytest.fixture(scope="session")
def is_socklab_python_server(server_labels: dict[str, str]) -> bool:
    """One of our Python versions: it also promises the SIGTERM drain."""
    return server_labels.get("io.socklab.role") == "server" and server_labels.get("io.socklab.impl") == "python"


@pytest.fixture(scope="session")
def shared_labels(request: pytest.FixtureRequest, session_id: str) -> dict[str, str]:
    """The labels of what a worker makes once for the whole run (``once`` in ``run_folder``): under xdist the
    controller's run, which it removes after the last worker; in one process the session's."""
    return support_session.shared_labels(request.config) or run_labels(session_id, "test")


FLAWS = ("echo", "close", "serial", "late")


@pytest.fixture(scope="session")
def broken_images(
    docker_client: docker.DockerClient, shared_labels: dict[str, str], run_folder: Path, lab_images: ImageSet
) -> dict[str, str]:
    """Deliberately broken servers (tests/fixtures/broken), one per flaw: the proof that checks can fail.
    Built once per run, by the first worker to ask."""
    tags = {flaw: f"socklab-test/broken:{shared_labels[RUN]}-{flaw}" for flaw in FLAWS}

    def build_all(_folder: Path) -> None:
        for flaw, tag in tags.items():
            spec = ImageSpec(tag, "Dockerfile", {"FLAW": flaw}, context=ROOT / "tests" / "fixtures" / "broken")
            build(docker_client, spec, labels=shared_labels, progress=to_stderr("tests"))

    once(run_folder / "broken-images", build_all)
    return tags
