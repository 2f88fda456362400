"""Every capability's command, run as a user runs it, leaves the engine exactly as it found it the moment it
returns: no container, network, volume or image of its own (labelled or not), the same swarm state, the same
iptables chains on the host, and the same rules in the network namespace of a container it was pointed at.

How a shared engine is read honestly (other helpers run labs on it at the same time): the command runs as a
subprocess of the installed ``socklab``; the engine is listed right before and right after; then the engine's
own event log of exactly that window tells what was created in it. An object is the command's when it carries
socklab's labels with the command process's pid (every socklab label set is made in that process by
``run_labels``), or when it carries no socklab label at all, was created inside the window, and its name says
it is the command's: one of the run ids its labelled objects carry (names are made from them), the compose
project or stack name this test chose, or a volume one of its containers mounted. Whatever else was made
meanwhile carries someone else's pid or name and is left out (and shown in the failure message, for context),
so neither can it fail this test nor hide ours. A removal that the engine logs after the command returned
counts as a leftover too: "gone a moment later" is not "gone". Images a command documents as kept (a cache
such as ``socklab/probes:<hash>``, or ``socklab/tools``) are allowed; nothing else new is.

The default run has the quick commands; the slow ones are behind their markers: ``-m experiments``
(an experiment, a trace), ``-m heavy`` (bench --quick, a swarm of two Docker-in-Docker engines), ``-m faults``
(the fault suite). The swarm rows carry ``swarm`` (deselect them with ``-m "not swarm"`` on a shared engine).
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator

import docker
import pytest
from docker.models.containers import Container
from support_engine import KEPT, assert_left_nothing, run_and_watch

from socklab.images.build import ImageSet
from socklab.lab.labels import run_labels
from socklab.swarm.host import local_state
from support_scenarios import EXAMPLES, with_images

pytestmark = pytest.mark.lab


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def target(docker_client: docker.DockerClient, session_id: str, lab_images: ImageSet) -> Iterator[Container]:
    """A running server that is not a lab's: what `socklab fault` is pointed at."""
    container = docker_client.containers.run(
        lab_images.server,
        name=f"socklab-test-{session_id}-target-{uuid.uuid4().hex[:6]}",
        labels=run_labels(session_id, "test"),
        environment={"SOCKLAB_DELAY": "0"},
        detach=True,
    )
    try:
        yield container
    finally:
        container.remove(force=True)


def _images(lab_images: ImageSet) -> list[str]:
    return ["--server-image", lab_images.server, "--client-image", lab_images.client]


def test_run(docker_client: docker.DockerClient, lab_images: ImageSet) -> None:
    watched = run_and_watch(docker_client, ["run", "--clients", "2", "--delay", "0.5", *_images(lab_images)])
    assert watched.returncode == 0, watched.describe()
    assert watched.ours, "the test saw nothing of the command's: the accounting itself is broken"
    assert_left_nothing(watched)


def test_run_with_kernel(docker_client: docker.DockerClient, lab_images: ImageSet, tools_image: str, tmp_path) -> None:
    args = ["run", "--clients", "2", "--delay", "0.5", "--kernel", "--events", str(tmp_path / "e.jsonl")]
    watched = run_and_watch(docker_client, [*args, *_images(lab_images)])
    assert watched.returncode == 0, watched.describe()
    assert_left_nothing(watched)  # the observer and the server's tracer too


@pytest.mark.slow
def test_demo_with_kernel(
    docker_client: docker.DockerClient, lab_images: ImageSet, tools_image: str, session_id: str, tmp_path
) -> None:
    project = f"socklab-test-{session_id}-kdemo"
    env = {
        "SERVER_IMAGE": lab_images.server,
        "CLIENT_IMAGE": lab_images.client,
        "SOCKLAB_DELAY": "0.5",
        "SOCKLAB_HOST_PORT": str(_free_port()),
    }
    args = ["demo", "--clients", "2", "--project", project, "--kernel", "--events", str(tmp_path / "e.jsonl")]
    watched = run_and_watch(docker_client, args, env=env, projects=[project])
    assert watched.returncode == 0, watched.describe()
    assert_left_nothing(watched)


def test_demo(docker_client: docker.DockerClient, lab_images: ImageSet, session_id: str) -> None:
    project = f"socklab-test-{session_id}-demo"
    env = {
        "SERVER_IMAGE": lab_images.server,
        "CLIENT_IMAGE": lab_images.client,
        "SOCKLAB_DELAY": "0.5",
        "SOCKLAB_HOST_PORT": str(_free_port()),  # not 9736: another demo may hold it
    }
    watched = run_and_watch(
        docker_client, ["demo", "--clients", "2", "--project", project], env=env, projects=[project]
    )
    assert watched.returncode == 0, watched.describe()
    assert any(key[0] == "container" for key in watched.ours), watched.describe()
    assert_left_nothing(watched)


@pytest.mark.slow
def test_swap(docker_client: docker.DockerClient, lab_images: ImageSet) -> None:
    args = ["swap", lab_images.servers["fork"], lab_images.servers["thread"], "--client-image", lab_images.client]
    watched = run_and_watch(docker_client, [*args, "--clients", "2", "--exchanges", "4", "--delay", "0.2"])
    assert_left_nothing(watched)  # also when it failed
    assert watched.returncode == 0, watched.describe()


# A fault a sidecar agent holds in the target's namespace, and one the command itself undoes (the reaper's).
@pytest.mark.parametrize(
    "fault",
    [pytest.param(["loss", "--percent", "30"], id="loss"), pytest.param(["pause"], id="pause", marks=pytest.mark.slow)],
)
def test_fault(docker_client: docker.DockerClient, target: Container, tools_image: str, fault: list[str]) -> None:
    args = ["fault", *fault, "--container", str(target.name), "--for", "1"]
    watched = run_and_watch(docker_client, args, namespaces=[str(target.name)])
    assert watched.returncode == 0, watched.describe()
    target.reload()
    assert target.status == "running", watched.describe()
    assert_left_nothing(watched)


def test_check(docker_client: docker.DockerClient, lab_images: ImageSet, broken_images: dict[str, str]) -> None:
    # A broken image, so that the command's failure path is the one held to it; --fail-fast keeps it quick.
    args = ["check", broken_images["echo"], "--client-image", lab_images.client, "--fail-fast"]
    watched = run_and_watch(docker_client, args)
    assert watched.returncode == 1, watched.describe()
    assert_left_nothing(watched)


def test_scenario(docker_client: docker.DockerClient, lab_images: ImageSet, tools_image: str, tmp_path) -> None:
    # The flaky-network example (scenarios/): the impairment proxy in the path, a fault agent in the server's
    # namespace and one in a client's, continuous load; run here once, held to its hypothesis and to this.
    path = tmp_path / "flaky-network.scenario.yaml"
    path.write_text(with_images((EXAMPLES / "flaky-network.scenario.yaml").read_text(), lab_images))
    watched = run_and_watch(
        docker_client, ["scenario", "run", str(path), "--client-image", lab_images.client, "--json"]
    )
    assert_left_nothing(watched)  # also when it failed
    assert watched.returncode == 0, watched.describe()
    journal = json.loads(watched.stdout)
    assert journal["ok"] is True and all(probe["ok"] for probe in journal["runs"][0]["probes"]), watched.describe()
    partition = next(step for step in journal["runs"][0]["steps"] if step["action"].startswith("fault partition"))
    assert partition["seeded"] and len(partition["targets"]) == 1 and not partition["error"], partition


@pytest.mark.experiments
def test_experiment(docker_client: docker.DockerClient, lab_images: ImageSet, tmp_path) -> None:
    args = ["experiment", "order", "--plots", str(tmp_path), *_images(lab_images)]
    watched = run_and_watch(docker_client, args)
    assert_left_nothing(watched)  # also when it failed
    assert watched.returncode == 0, watched.describe()


@pytest.mark.experiments
def test_trace(docker_client: docker.DockerClient, lab_images: ImageSet, tmp_path) -> None:
    args = ["trace", "--delay", "0", "--output", str(tmp_path), *_images(lab_images)]
    watched = run_and_watch(docker_client, args)
    assert_left_nothing(watched)  # also when it failed
    assert watched.returncode == 0, watched.describe()


@pytest.mark.heavy
def test_bench_quick(docker_client: docker.DockerClient, tmp_path) -> None:
    # The bench runs PREFIX/server:VERSION tags: the user's images (socklab/…), not the session's.
    args = ["bench", "--quick", "--versions", "epoll", "--output", str(tmp_path)]
    watched = run_and_watch(docker_client, args, timeout=900)
    assert_left_nothing(watched)  # also when it failed
    assert watched.returncode == 0, watched.describe()


@pytest.mark.faults
def test_fault_suite(docker_client: docker.DockerClient, lab_images: ImageSet, tools_image: str) -> None:
    # partition: a fault held by a sidecar agent in the server's namespace, the kind that could outlive its command.
    args = ["faults", "--fault", "partition", "--server-image", lab_images.server, "--client-image", lab_images.client]
    watched = run_and_watch(docker_client, args, timeout=900)
    assert_left_nothing(watched)  # first: a run that failed must leave nothing either
    assert watched.returncode == 0, watched.describe()


@pytest.mark.swarm
@pytest.mark.parametrize(
    "where",
    [
        # `alone`: it inits and leaves this engine's swarm, which breaks running containers' DNS (moby#45144).
        pytest.param(["--init"], id="this-engine", marks=pytest.mark.alone),
        # Two Docker-in-Docker engines: their node image (built once, minutes) and their start take long.
        pytest.param(["--nodes", "2"], id="two-dind-engines", marks=pytest.mark.heavy),
    ],
)
def test_swarm_up_then_down(docker_client: docker.DockerClient, lab_images: ImageSet, where: list[str]) -> None:
    if local_state(docker_client) != "inactive":
        pytest.skip("this engine is in a swarm already: socklab does not touch a swarm it did not make")
    args = ["swarm", "up", *where, "--clients", "2", "--delay", "0.5", *_images(lab_images)]
    up = run_and_watch(docker_client, args, projects=["socklab"], swarm=True, timeout=900)
    down = run_and_watch(docker_client, ["swarm", "down"], projects=["socklab"], swarm=True)
    assert up.returncode == 0, up.describe()
    assert down.returncode == 0, down.describe()
    if where == ["--init"]:
        assert up.at_return.swarm[0] == "active", "the stack stays up for inspection until `swarm down`"
    # Held to the engine as `up` found it: what either command made is gone when `down` returns. The node
    # image of the Docker-in-Docker engines is a documented cache (`swarm down --node-image` removes it).
    down.before, down.ours = up.before, up.ours | down.ours
    assert_left_nothing(down, kept=(*KEPT, "socklab/swarm-node:"))
    assert local_state(docker_client) == "inactive"
