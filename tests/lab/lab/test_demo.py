"""README's demo command, for real: compose up with three clients on three container hosts, then down."""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
import sys

import docker
import pytest

from socklab.analysis.verdict import Interval, judge
from socklab.lab.labels import new_run_id
from socklab.paths import ROOT
from socklab.wire import parse_served

pytestmark = pytest.mark.lab

DELAY = 5.0  # the README's (and the original's) delay


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def compose_project(docker_client: docker.DockerClient):
    """A compose project name of this test's own; whatever is left under it is removed afterwards."""
    project = f"socklab-test-{new_run_id()}"
    yield project
    selector = {"label": f"com.docker.compose.project={project}"}
    for container in docker_client.containers.list(all=True, filters=selector, ignore_removed=True):
        container.remove(force=True)
    for network in docker_client.networks.list(filters=selector):
        network.remove()


def test_the_demo_prints_b_from_three_client_hosts(docker_client, server_image, client_image, compose_project):
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": compose_project,
        "SERVER_IMAGE": server_image,
        "CLIENT_IMAGE": client_image,
        "SOCKLAB_DELAY": f"{DELAY:g}",
        "SOCKLAB_HOST_PORT": str(_free_loopback_port()),  # a demo the user runs on 9736 may be up
    }
    done = subprocess.run(
        [sys.executable, "-m", "socklab", "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output

    summary = [line for line in done.stdout.splitlines() if line.startswith(f"{compose_project}-client-")]
    assert len(summary) == 3, output
    hosts = set()
    for line in summary:
        match = re.search(
            r"char from server = B  \[host (\S+) (\S+), server \S+, [0-9.]+ s to connect, ([0-9.]+) s", line
        )
        assert match, f"no answer 'B' in: {line}"
        hosts.add(match[2])
        assert float(match[3]) <= DELAY + 1, f"waited {match[3]} s with delay {DELAY:g}: {line}"
    assert len(hosts) == 3, f"three clients, three addresses: {summary}"

    assert re.search(r"3/3 clients answered correctly, [0-9.]+ s from `up`", done.stdout), output

    records = [record for line in output.splitlines() if (record := parse_served(line))]
    if records:  # a server image of ours logs its peers and when it served them; any other may not
        assert {record.peer.address for record in records} == hosts, output
        today = dt.datetime.now(dt.UTC).date()
        intervals = [Interval(str(r.peer), *span) for r in records if (span := r.interval(today)) is not None]
        if intervals:  # the C server's lines carry no stamp of their own
            verdict = judge(intervals, clients=3, delay=DELAY)
            assert verdict.concurrent, f"{verdict.summary()}\n{output}"

    # `docker compose down` ran: nothing of the project is left (the fixture's sweep is only a safety net).
    selector = {"label": f"com.docker.compose.project={compose_project}"}
    assert docker_client.containers.list(all=True, filters=selector, ignore_removed=True) == []
    assert docker_client.networks.list(filters=selector) == []
