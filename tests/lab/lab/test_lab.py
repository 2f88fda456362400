"""The throwaway lab: hardened containers, and nothing left behind after Ctrl-C or SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import docker
import pytest

from socklab.lab.lab import Lab
from socklab.lab.labels import OWNER_PID, PROJECT, RUN
from support import ROOT

pytestmark = pytest.mark.lab


def test_server_and_clients_run_locked_down_and_still_answer(lab_images):
    with Lab(server_image=lab_images.servers["fork"], client_image=lab_images.client, delay=0, purpose="test") as lab:
        assert lab.server is not None
        host_config = lab.server.sdk.attrs["HostConfig"]
        assert host_config["ReadonlyRootfs"] is True
        assert host_config["CapDrop"] == ["ALL"]
        assert "no-new-privileges" in host_config["SecurityOpt"]
        assert host_config["PidsLimit"] > 0 and host_config["Memory"] > 0
        (run,) = lab.run_clients(1)
        assert run.ok and run.received == "B"


def _start_run(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "socklab", "run", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _wait_for_stderr(process: subprocess.Popen[str], text: str) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        if text in line:
            return
    raise AssertionError(f"`socklab run` ended before printing {text!r}")


def _objects_of(client: docker.DockerClient, pid: int) -> tuple[list, list]:
    selector = {"label": [PROJECT, f"{OWNER_PID}={pid}"]}
    return client.containers.list(all=True, filters=selector), client.networks.list(filters=selector)


@pytest.mark.parametrize(
    ("how", "kernel"),
    [(signal.SIGINT, False), (signal.SIGKILL, False), (signal.SIGKILL, True)],
    ids=["ctrl-c", "sigkill", "sigkill-kernel"],
)
def test_an_interrupted_or_killed_run_leaves_nothing_behind(lab_images, docker_client, how, kernel, tmp_path, request):
    # --kernel: the observer and the server's tracer are the run's too (the tools image is built before the run).
    observed = ["--kernel", "--events", str(tmp_path / "e.jsonl")] if kernel else []
    if kernel:
        request.getfixturevalue("tools_image")
    process = _start_run(
        "--clients", "2", "--delay", "30", "--server-image", lab_images.server, "--client-image", lab_images.client,
        *observed,
    )  # fmt: skip
    try:
        _wait_for_stderr(process, "clients released at once")
        containers, networks = _objects_of(docker_client, process.pid)
        expected = 3 + 2 * kernel  # a server and two clients (and the observer and the server's tracer)
        assert len(containers) == expected and len(networks) == 1, "the run is under way, a network and its containers"
        # Watch for their removal before the signal, so no event can be missed; `until` bounds the wait.
        events = docker_client.events(
            decode=True, since=f"{time.time():.9f}", until=int(time.time() + 60), filters={"event": "destroy"}
        )
        process.send_signal(how)
        exit_code = process.wait(timeout=60)
        pending = {c.id for c in containers} | {networks[0].id}
        for event in events:
            pending.discard(event.get("id") or event.get("Actor", {}).get("ID"))
            if not pending:
                break
        events.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if how == signal.SIGINT:
        assert exit_code == 130
    assert not pending, f"left behind: {pending}"
    assert _objects_of(docker_client, process.pid) == ([], [])


def test_a_unix_socket_on_a_shared_volume_between_two_containers(lab_images, docker_client):
    from socklab.lab.topology import Node

    with Lab(server_image=lab_images.servers["fork"], client_image=lab_images.client, delay=0, purpose="test") as lab:
        volumes = {"socket": "/run/socklab"}
        unix = {"SOCKLAB_TRANSPORT": "unix"}
        server = lab.add(Node("unix-server", lab_images.servers["fork"], unix, volumes=volumes,
                              hardening=lab.topology.hardening))  # fmt: skip
        server.wait_for_log(r"listening on /run/socklab/socklab.sock", timeout=30)
        client = lab.add(Node("unix-client", lab_images.client, unix, volumes=volumes,
                              hardening=lab.topology.client_hardening))  # fmt: skip
        assert client.wait(timeout=30) == 0
        assert "char from server = B" in client.logs()
        assert docker_client.volumes.list(filters={"label": f"io.socklab.run={lab.run_id}"})
    assert not docker_client.volumes.list(filters={"label": f"io.socklab.run={lab.run_id}"})


def test_an_empty_lab_with_a_subnet_places_containers_at_fixed_addresses(lab_images):
    from socklab.lab.topology import Node

    with Lab(server_image=None, subnet="auto", purpose="test") as lab:
        server = lab.add(
            Node("fixed", lab_images.servers["async"], {"SOCKLAB_DELAY": "0"}, aliases=("server",),
                 ipv4_address=lab.host_address(20), hardening=lab.topology.hardening)
        )  # fmt: skip
        server.wait_for_log("listening on", timeout=30)
        assert server.address() == lab.host_address(20)
        assert server.sdk.labels[RUN] == lab.run_id  # found (and removed) by its run's label
        assert server.sdk.attrs["HostConfig"]["ReadonlyRootfs"] is True  # and as locked down as any server
        client = lab.add(Node("asker", lab_images.client, {"SOCKLAB_SERVER": "server"}, command=("--char", "0x41")))
        assert client.wait(timeout=30) == 0 and "char from server = B" in client.logs()


def test_a_sidecar_shares_a_containers_network_and_a_container_without_one_reaches_nobody(lab_images):
    from socklab.lab.topology import Node

    with Lab(server_image=None, purpose="test") as lab:
        server = lab.add(Node("server", lab_images.servers["async"], {"SOCKLAB_DELAY": "0"}, aliases=("server",)))
        server.wait_for_log("listening on", timeout=30)
        asker = {"SOCKLAB_JSON": "true", "SOCKLAB_CONNECT_DEADLINE": "2"}
        # In the server's namespace, the server is on the sidecar's own loopback.
        beside = lab.run_once(
            Node("beside", lab_images.client, {**asker, "SOCKLAB_SERVER": "127.0.0.1"}, shares_network_with="server")
        )
        assert beside.ok and beside.received == "B", beside.describe()
        alone = lab.run_once(Node("alone", lab_images.client, {**asker, "SOCKLAB_SERVER": "server"}, network=None))
        assert alone.exit_code != 0 and not alone.ok, alone.describe()
        assert set(lab.containers) == {"server"}  # the one-shots are gone already


def test_a_lab_over_a_container_it_did_not_make_joins_it_and_leaves_it_running(lab_images, docker_client, session_id):
    from socklab.lab.lab import foreign_lab
    from socklab.lab.labels import run_labels
    from socklab.lab.topology import Node

    foreign = docker_client.containers.run(
        lab_images.servers["async"],
        environment={"SOCKLAB_DELAY": "0"},
        name=f"socklab-containers-foreign-{session_id}",
        labels=run_labels(session_id, "test"),
        detach=True,
    )
    try:
        with foreign_lab("test") as lab:
            target = lab.adopt(foreign.name)
            asker = {"SOCKLAB_JSON": "true", "SOCKLAB_SERVER": "127.0.0.1", "SOCKLAB_CONNECT_DEADLINE": "20"}
            beside = lab.run_once(Node("beside", lab_images.client, asker, shares_network_with=target.node.role))
            assert beside.ok and beside.received == "B", beside.describe()
            assert lab.network is None  # a lab of sidecars only: no network of its own
        foreign.reload()
        assert foreign.status == "running"  # adopted, never removed
        assert not docker_client.containers.list(all=True, filters={"label": f"{RUN}={lab.run_id}"})
    finally:
        foreign.remove(force=True)


def test_folders_are_copied_in_before_start_and_stdin_ends_when_the_holder_lets_go(tmp_path):
    from socklab.lab.topology import Node

    (tmp_path / "greeter").mkdir()
    (tmp_path / "greeter" / "__init__.py").write_text("")
    (tmp_path / "greeter" / "__main__.py").write_text(
        "import sys\nprint('up', flush=True)\nfor line in sys.stdin:\n    print('got', line.strip(), flush=True)\n"
        "print('eof', flush=True)\n"
    )
    (tmp_path / "greeter").chmod(0o755)  # pytest's folders are private; the image's user must read it
    with Lab(server_image=None, purpose="test") as lab:
        node = Node(
            "greeter",
            "socklab/base:latest",
            {"PYTHONPATH": "/opt/test", "PYTHONDONTWRITEBYTECODE": "1"},
            command=("python3", "-m", "greeter"),
            network=None,
            extra={"stdin_open": True},
            copies={str(tmp_path / "greeter"): "/opt/test"},
        )
        greeter = lab.add(node)
        stdin = greeter.attach_stdin()
        greeter.wait_for_log("up", timeout=30, literal=True)  # the code was there when it started
        stdin.sendall(b"hello\n")
        greeter.wait_for_log("got hello", timeout=30, literal=True)
        stdin.shutdown(socket.SHUT_WR)  # as when this process dies: StdinOnce, so its stdin reads EOF
        stdin.close()
        assert greeter.wait(timeout=30) == 0
        assert greeter.logs().splitlines() == ["up", "got hello", "eof"]
