"""Rollbacks always: a scenario interrupted with Ctrl-C in the middle of its method, a fault on, undoes it and
removes its lab before it returns (exit 130); killed outright (SIGKILL), socklab's reaper removes the lab and
the fault's sidecar goes with it."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import docker
import pytest

from socklab.lab.labels import OWNER_PID, PROJECT
from support_scenarios import SOCKLAB

pytestmark = pytest.mark.lab

SCENARIO = """name: held until the end
lab:
  server: {server}
  clients: 2
  delay: 0.5
method:
  - at: 0s
    clients: {{count: 2, exchanges: continuous}}
  - at: 1s
    id: cut
    fault: partition
    target: server
  - at: 60s
    undo: cut
  - at: 61s
    end: true
"""


def _objects_of(client: docker.DockerClient, pid: int) -> tuple[list, list]:
    selector = {"label": [f"{PROJECT}=socklab", f"{OWNER_PID}={pid}"]}
    return client.containers.list(all=True, filters=selector), client.networks.list(filters=selector)


def _wait_for_event(path: Path, kind: str, process: subprocess.Popen[str], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # the events file is written line by line, flushed: read it again
        if path.exists():
            for line in path.read_text().splitlines():
                if f'"kind":"{kind}"' in line:
                    return json.loads(line)
        if process.poll() is not None:
            raise AssertionError(f"the command exited {process.returncode} before a {kind} event")
        time.sleep(0.2)
    raise AssertionError(f"no {kind} event in {path} within {timeout:g} s")


@pytest.mark.parametrize(
    "how", [signal.SIGINT, pytest.param(signal.SIGKILL, marks=pytest.mark.slow)], ids=["ctrl-c", "sigkill"]
)
def test_an_interrupted_scenario_undoes_its_fault_and_leaves_nothing(tmp_path, lab_images, tools_image, docker_client,
                                                                     how):  # fmt: skip
    path = tmp_path / "held.scenario.yaml"
    path.write_text(SCENARIO.format(server=lab_images.servers["fork"]))
    events = tmp_path / "events.jsonl"
    process = subprocess.Popen(
        [SOCKLAB, "scenario", "run", str(path), "--client-image", lab_images.client, "--events", str(events)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        applied = _wait_for_event(events, "fault.applied", process, timeout=120)
        assert applied["data"]["name"] == "partition"
        containers, networks = _objects_of(docker_client, process.pid)
        assert containers and networks, "the method is under way: its lab is there"
        process.send_signal(how)
        code = process.wait(timeout=120)
        if how == signal.SIGINT:
            assert code == 130, process.stderr.read() if process.stderr else ""
            undone = _wait_for_event(events, "fault.undone", process, timeout=1)
            assert undone["data"]["report"]["verified"] is True, undone
            assert _objects_of(docker_client, process.pid) == ([], []), "left behind at return"
        else:  # the reaper notices the owner is gone and removes what it made, within its bound
            deadline = time.monotonic() + 90
            while _objects_of(docker_client, process.pid) != ([], []) and time.monotonic() < deadline:
                time.sleep(1)
            assert _objects_of(docker_client, process.pid) == ([], []), "the reaper left them"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
