"""The pytest plugin, as another project uses it (issue 15): a throwaway project outside the checkout, with
the wheel, pytest and pytest-xdist in its own venv, holds a correct image and a broken one to the contract,
with and without ``-n 2``; its own checks use the plugin's fixtures. Nothing is left on the engine."""

from __future__ import annotations

import json
import re
from pathlib import Path

import docker
import pytest

from socklab.checks.contract import RULES
from socklab.lab.labels import OWNER_PID, PROJECT
from support_wheel import run

pytestmark = pytest.mark.lab

# The project's own checks, written against the plugin's public fixtures. Each records its process and its
# lab's run, so the test can tell the xdist workers apart and find what they made.
OWN_TESTS = """
import json, os
import pytest

RECORD = {record!r}


def note(lab):
    with open(RECORD, "a") as out:
        out.write(json.dumps({{"pid": os.getpid(), "run": lab.run_id, "network": lab.network.name}}) + "\\n")


@pytest.mark.socklab_lab(delay=0)
def test_our_server_answers_b(socklab_lab, socklab_server):
    note(socklab_lab)
    network = socklab_lab.docker.networks.get(socklab_lab.network.name)
    assert network.attrs["Labels"]["io.socklab.owner-pid"] == str(os.getpid())
    assert socklab_server.ask(b"A") == b"B" and socklab_server.ask(0xFF) == b"\\x00"


def test_three_clients_at_once(socklab_lab, socklab_clients):
    note(socklab_lab)
    runs = socklab_clients(3)
    assert [run.received for run in runs] == ["B", "B", "B"], [run.describe() for run in runs]
"""
CONFTEST = """
import os


def pytest_sessionstart(session):
    with open({pids!r}, "a") as out:
        out.write(f"{{os.getpid()}}\\n")
"""
OWN = ("test_our_server_answers_b", "test_three_clients_at_once")


@pytest.fixture(scope="session")
def broken_echo(broken_images: dict[str, str]) -> str:
    """tests/fixtures/broken with FLAW=echo: answers the byte unchanged."""
    return broken_images["echo"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_own.py").write_text(OWN_TESTS.format(record=str(tmp_path / "record.jsonl")))
    (tmp_path / "conftest.py").write_text(CONFTEST.format(pids=str(tmp_path / "pids.txt")))
    return tmp_path


def records(project: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (project / "record.jsonl").read_text().splitlines()]


def left_on_engine(client: docker.DockerClient, pids: set[str]) -> list[str]:
    """Whatever the project's pytest processes made (their pid is its owner label) and is still there.

    The low-level listings: they carry the labels, so no object another run removes meanwhile is inspected.
    """
    ours = {"label": [f"{PROJECT}=socklab"]}
    api = client.api
    labelled = [
        *((f"container {c['Names']}", c.get("Labels")) for c in api.containers(all=True, filters=ours)),
        *((f"network {n['Name']}", n.get("Labels")) for n in api.networks(filters=ours)),
        *((f"volume {v['Name']}", v.get("Labels")) for v in api.volumes(filters=ours).get("Volumes") or []),
        *((f"image {i.get('RepoTags')}", i.get("Labels")) for i in api.images(filters=ours)),
    ]
    return [name for name, labels in labelled if (labels or {}).get(OWNER_PID) in pids]


def pids(project: Path) -> set[str]:
    """Every pytest process of the project's run (under xdist: the controller and each worker)."""
    return set((project / "pids.txt").read_text().split())


# Under xdist by default (the plugin and its safety there); serially, with autoloading off, with -m slow.
WORKERS = [pytest.param(0, id="serial", marks=pytest.mark.slow), pytest.param(2, id="xdist-2")]


def pytest_in_project(venv: Path, project: Path, image: str, client_image: str, workers: int) -> tuple[int, str]:
    command = [
        venv / "bin" / "pytest",
        "-p",
        "socklab",
        "--socklab-image",
        image,
        "--socklab-client-image",
        client_image,
    ]
    command += ["-rA", "-p", "no:cacheprovider", *(["-n", str(workers)] if workers else [])]
    # Serially, with plugin autoloading off: `-p socklab` alone must load the plugin (the entry point's name).
    done = run(command, cwd=project, env={} if workers else {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("workers", WORKERS)
def test_a_correct_image_keeps_the_contract(venv, project, wheel_images, docker_client, workers):
    server, client = wheel_images["servers"]["fork"], wheel_images["clients"]["python"]
    code, out = pytest_in_project(venv, project, server, client, workers)
    assert code == 0, out
    for rule in RULES:
        assert f"PASSED socklab-contract::test_contract[{server}-{rule.id}]" in out, out
    for own in OWN:
        assert re.search(rf"PASSED tests/test_own.py::{own}\[{re.escape(server)}\]", out), out
    seen = records(project)
    assert len({entry["run"] for entry in seen}) == len(seen) == 2  # a lab, a run id and a network each
    assert len({entry["network"] for entry in seen}) == 2
    assert {str(entry["pid"]) for entry in seen} <= pids(project)
    assert len(pids(project)) == (1 if workers == 0 else 1 + workers)
    assert left_on_engine(docker_client, pids(project)) == []


@pytest.mark.parametrize("workers", WORKERS)
def test_a_broken_image_fails_naming_its_rule(venv, project, wheel_images, broken_echo, docker_client, workers):
    client = wheel_images["clients"]["python"]
    code, out = pytest_in_project(venv, project, broken_echo, client, workers)
    assert code == 1, out
    assert f"FAILED socklab-contract::test_contract[{broken_echo}-plus-one]" in out, out
    assert "ContractViolation: 'A' -> 'B': answered 0x41 to 0x41, expected 0x42" in out, out
    # The server's log, in the message and as a section of the report; the project's own check gets it too.
    assert "--- server log (last lines) ---\nE           broken server (echo) listening on 9736" in out, out
    assert re.search(r"-+ socklab server log \(" + re.escape(broken_echo) + r", rule plus-one\) -+\nbroken server", out)
    assert re.search(r"-+ socklab server log \(" + re.escape(broken_echo) + r", run \w+\) -+\nbroken server", out)
    assert f"FAILED tests/test_own.py::test_our_server_answers_b[{broken_echo}]" in out, out
    assert left_on_engine(docker_client, pids(project)) == []
