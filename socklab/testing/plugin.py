"""The pytest plugin: options, the contract's tests added to the session, and the public fixtures.

Everything a session makes carries the labels of its own run id (one per process, so one per xdist
worker) and is removed at its end: the labs by their fixtures, the client image the plugin builds when
none is given by the session's finalizer, and whatever a killed worker left by the reaper.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from socklab.errors import engine
from socklab.faults.suite import SUITE
from socklab.images.build import ImageSpec, __version__, build, ensure_base
from socklab.images.rootfs import BASE_TAG
from socklab.lab import reaper
from socklab.lab.client_run import ClientRun
from socklab.lab.lab import Lab
from socklab.lab.labels import new_run_id, remove_run, run_labels
from socklab.testing.scenario_items import ScenarioFile, wanted
from socklab.testing.server import Server

# Collected from the package, not from the project, under these node ids.
CONTRACT = (Path(__file__).with_name("contract_suite.py"), "socklab-contract")
BAD_INPUT = (Path(__file__).with_name("bad_input_suite.py"), "socklab-bad-input")
FAULTS = (Path(__file__).with_name("fault_suite.py"), "socklab-faults")
PURPOSE = "pytest"
LABS = pytest.StashKey[list[Lab]]()
SECTIONS = pytest.StashKey[list[tuple[str, str]]]()
DEFAULT_CLIENT = "socklab/client:latest"

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # testcontainers' reaper needs a registry


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("socklab", "socklab: hold a server image to the contract")
    group.addoption(
        "--socklab-image",
        action="append",
        default=[],
        metavar="IMAGE",
        help="run socklab's contract against this server image (repeatable); the fixtures use it too",
    )
    group.addoption(
        "--socklab-client-image",
        default="",
        metavar="IMAGE",
        help=f"the client image the labs use (default: {DEFAULT_CLIENT} if it exists, else built from socklab)",
    )
    group.addoption(
        "--socklab-bad-input",
        action="store_true",
        help=(
            "add the bad-input and limit rows (connect and close, half close, 10 MB of garbage, reset during "
            "the delay, 1,000 idle connections, 2,000 connects at once, out of descriptors, fork under a pids "
            "limit, no defunct)"
        ),
    )
    group.addoption(
        "--socklab-faults",
        action="store_true",
        help=f"add the fault rows ({', '.join(SUITE)}: nothing lost; names from socklab's fault catalog)",
    )
    group.addoption(
        "--socklab-scenarios",
        action="append",
        default=[],
        metavar="PATH",
        help="collect every *.scenario.yaml under PATH (repeatable): one test per scenario and server version "
        "(the file's lab.server, or each --socklab-image)",
    )
    group.addoption(
        "--socklab-no-contract",
        action="store_true",
        help="do not add the contract's tests (only the fixtures, for the project's own tests)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "socklab_lab(**options): the options of the socklab_lab fixture's Lab")
    config.addinivalue_line("markers", "socklab_scenario: a scenario file's run (--socklab-scenarios)")
    roots = _scenario_roots(config)
    # The scenarios' folder is collected even when it is not among the paths pytest was given (or its testpaths).
    given = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    for root in roots:
        if not any(root == g or g in root.parents for g in given):
            config.args.append(str(root))


def _scenario_roots(config: pytest.Config) -> list[Path]:
    base = config.invocation_params.dir
    return [(base / path).resolve() for path in config.getoption("socklab_scenarios") or []]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A ``*.scenario.yaml`` under ``--socklab-scenarios``: its items (inert without the option)."""
    roots = _scenario_roots(parent.config)
    if roots and wanted(file_path.resolve(), roots):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(tryfirst=True)  # before -k/-m deselect, so they apply to the contract's tests too
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("socklab_image") or config.getoption("socklab_no_contract"):
        return
    added: list[pytest.Item] = []
    suites = [CONTRACT]
    suites += [BAD_INPUT] if config.getoption("socklab_bad_input") else []
    suites += [FAULTS] if config.getoption("socklab_faults") else []
    for path, nodeid in suites:
        module = pytest.Module.from_parent(session, path=path, nodeid=nodeid)
        added += [item for item in session.genitems(module) if isinstance(item, pytest.Item)]
    items[:0] = added


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "socklab_server_image" in metafunc.fixturenames:
        images = list(dict.fromkeys(metafunc.config.getoption("socklab_image"))) or [""]
        metafunc.parametrize("socklab_server_image", images, indirect=True, scope="session", ids=images)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report carries the server log of each lab it used (and what it attached itself)."""
    report = yield
    if report.when != "call" or report.passed:
        return report
    for title, text in item.stash.get(SECTIONS, []):
        report.sections.append((title, text))
    for lab in item.stash.get(LABS, []):
        try:
            report.sections.append((f"socklab server log ({lab.server_image}, run {lab.run_id})", lab.server_logs()))
        except Exception as exc:  # noqa: BLE001 - a report section must never hide the failure itself
            report.sections.append((f"socklab server log (run {lab.run_id})", f"unavailable: {exc}"))
    return report


# --- the session: its run id, the engine, the images ------------------------------------------------------
@pytest.fixture(scope="session")
def socklab_run_id() -> str:
    """This process's run id (one per xdist worker): the label on everything the session itself makes."""
    return new_run_id()


@pytest.fixture(scope="session")
def socklab_docker(socklab_run_id: str) -> Iterator[docker.DockerClient]:
    """The Docker engine; at the session's end, everything labelled with the session's run id is removed."""
    client = engine()
    reaper.watch(socklab_run_id)  # removed even if the worker is killed
    try:
        yield client
    finally:
        remove_run(client, socklab_run_id)
        reaper.done(socklab_run_id)
        client.close()


@pytest.fixture(scope="session")
def socklab_server_image(request: pytest.FixtureRequest) -> str:
    """The server image under test: each ``--socklab-image`` in turn (tests using it run once per image)."""
    image = str(request.param)
    if not image:
        pytest.skip("no server image: give one with --socklab-image IMAGE")
    return image


@pytest.fixture(scope="session")
def socklab_client_image(request: pytest.FixtureRequest, socklab_run_id: str) -> str:
    """``--socklab-client-image``, else ``socklab/client:latest``, else socklab's client built for this session."""
    given = str(request.config.getoption("socklab_client_image"))
    if given:
        return given
    client: docker.DockerClient = request.getfixturevalue("socklab_docker")
    try:
        client.images.get(DEFAULT_CLIENT)
        return DEFAULT_CLIENT
    except docker.errors.ImageNotFound:
        pass
    ensure_base(client, BASE_TAG)
    tag = f"socklab-pytest/client:{socklab_run_id}"
    spec = ImageSpec(tag, "Dockerfile.client", {"BASE_IMAGE": BASE_TAG, "VERSION": __version__})
    build(client, spec, labels=run_labels(socklab_run_id, PURPOSE))  # removed with the session's run
    return tag


# --- labs, servers and clients for a project's own checks -------------------------------------------------
@pytest.fixture
def socklab_lab_factory(
    request: pytest.FixtureRequest, socklab_server_image: str, socklab_client_image: str
) -> Iterator[Callable[..., Lab]]:
    """``make(delay=1.0, server_env=None, **Lab options)``: a started ``Lab`` (own network, own run id),
    removed after the test; a failed test's report carries each lab's server log."""
    labs: list[Lab] = request.node.stash.setdefault(LABS, [])

    def make(**options: Any) -> Lab:
        options.setdefault("server_image", socklab_server_image)
        options.setdefault("client_image", socklab_client_image)
        options.setdefault("delay", 1.0)
        options.setdefault("purpose", PURPOSE)
        lab = Lab(**options)
        lab.__enter__()
        labs.append(lab)
        return lab

    try:
        yield make
    finally:
        for lab in reversed(labs):
            lab.close()


@pytest.fixture
def socklab_lab(request: pytest.FixtureRequest, socklab_lab_factory: Callable[..., Lab]) -> Lab:
    """One started lab against the image under test; ``@pytest.mark.socklab_lab(delay=0)`` sets its options."""
    marker = request.node.get_closest_marker("socklab_lab")
    return socklab_lab_factory(**(marker.kwargs if marker else {}))


@pytest.fixture
def socklab_server(socklab_lab: Lab) -> Server:
    """The lab's server: ``address``, ``port``, ``delay``, ``logs()``, ``ask(byte)`` from the host."""
    return Server(socklab_lab)


@pytest.fixture
def socklab_clients(socklab_lab: Lab) -> Callable[..., list[ClientRun]]:
    """``run(n, char="A", env=None)``: n client containers at once in the lab; their runs when all exited."""

    def run(count: int, **options: Any) -> list[ClientRun]:
        return socklab_lab.run_clients(count, **options)

    return run


@pytest.fixture
def socklab_attach(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """``attach(title, text)``: a section of the report if the test fails (the contract attaches the log)."""
    sections: list[tuple[str, str]] = request.node.stash.setdefault(SECTIONS, [])
    return lambda title, text: sections.append((title, text))
