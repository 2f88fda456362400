"""The tools image as a sidecar: it works in another container's network namespace, as root with
NET_ADMIN (and NET_RAW for tcpdump), and what it applies there is real and can be undone.

The target is a throwaway listener on a network of this session's own; the host talks to it at its
address on that network.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import docker
import docker.errors
import pytest
from testcontainers.core.container import DockerContainer

from socklab.images.rootfs import ensure_image
from socklab.lab.labels import new_run_id, run_labels
from socklab.lab.readiness import container_address, wait_for_log

pytestmark = pytest.mark.lab

PORT = 9736
LISTENER = (
    "import socket, sys; s = socket.socket(); s.bind(('0.0.0.0', 9736)); s.listen(16);"
    "print('listening', flush=True)\n"
    "while True: s.accept()[0].close()"
)


class Target:
    """The listener's container (for ``network_mode``), its address and the labels of this session."""

    def __init__(self, container: DockerContainer, address: str, labels: dict[str, str]) -> None:
        self.id = container.get_wrapped_container().id
        self.address = address
        self.labels = labels


@pytest.fixture
def target(docker_client: docker.DockerClient, session_id: str) -> Iterator[Target]:
    """A listener on port 9736 (backlog 16), alone on a labelled network of its own; removed afterwards."""
    labels = run_labels(session_id, "test")
    name = f"socklab-test-{new_run_id()}"
    network = docker_client.networks.create(name, labels=labels)
    try:
        listener = DockerContainer(ensure_image(docker_client, "base")).with_command(["python3", "-c", LISTENER])
        with listener.with_name(name).with_kwargs(network=name, labels=labels):
            wait_for_log(listener, r"^listening", timeout=30)
            listener.get_wrapped_container().reload()  # its address on the network, now that it runs
            yield Target(listener, container_address(listener, name), labels)
    finally:
        network.remove()


def tools(docker_client: docker.DockerClient, image: str, target: Target, *command: str) -> str:
    """Run *command* in the tools image in *target*'s network namespace; its output, or a failure."""
    sidecar = docker_client.containers.run(
        image,
        list(command),
        network_mode=f"container:{target.id}",
        cap_add=["NET_ADMIN", "NET_RAW"],
        labels=target.labels,
        detach=True,
    )
    try:
        status = sidecar.wait(timeout=60)
        output = sidecar.logs(stdout=True, stderr=True).decode(errors="replace")
    finally:
        sidecar.remove(force=True)
    assert status["StatusCode"] == 0, f"{' '.join(command)} exited {status['StatusCode']}:\n{output}"
    return output


def connect(address: str) -> str:
    """What a client on the host meets: 'accepted', 'refused' (a reset) or 'timeout' (dropped)."""
    try:
        with socket.create_connection((address, PORT), timeout=2):
            return "accepted"
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "timeout"


def test_iptables_is_the_nf_tables_backend(docker_client, tools_image, target):
    assert "nf_tables" in tools(docker_client, tools_image, target, "iptables", "--version")


def test_random_loss_rule_is_applied_and_removed(docker_client, tools_image, target):
    rule = ["INPUT", "-m", "statistic", "--mode", "random", "--probability", "0.2", "-j", "DROP"]
    before = tools(docker_client, tools_image, target, "iptables", "-S")
    tools(docker_client, tools_image, target, "iptables", "-A", *rule)
    applied = tools(docker_client, tools_image, target, "iptables", "-S")
    assert re.search(r"-A INPUT -m statistic --mode random --probability 0\.2\d* -j DROP", applied), applied
    tools(docker_client, tools_image, target, "iptables", "-D", *rule)
    assert tools(docker_client, tools_image, target, "iptables", "-S") == before


def test_reset_rule_turns_connects_into_refusals_until_removed(docker_client, tools_image, target):
    rule = ["INPUT", "-p", "tcp", "--dport", str(PORT), "-j", "REJECT", "--reject-with", "tcp-reset"]
    assert connect(target.address) == "accepted"
    tools(docker_client, tools_image, target, "iptables", "-A", *rule)
    try:
        assert connect(target.address) == "refused"
    finally:
        tools(docker_client, tools_image, target, "iptables", "-D", *rule)
    assert connect(target.address) == "accepted"


def test_tbf_qdisc_is_added_and_removed(docker_client, tools_image, target):
    before = tools(docker_client, tools_image, target, "tc", "qdisc", "show", "dev", "eth0")
    tbf = ["tbf", "rate", "1mbit", "burst", "32kbit", "latency", "400ms"]
    tools(docker_client, tools_image, target, "tc", "qdisc", "add", "dev", "eth0", "root", *tbf)
    shown = tools(docker_client, tools_image, target, "tc", "qdisc", "show", "dev", "eth0")
    assert "qdisc tbf" in shown and "rate 1Mbit" in shown, shown
    tools(docker_client, tools_image, target, "tc", "qdisc", "del", "dev", "eth0", "root")
    assert tools(docker_client, tools_image, target, "tc", "qdisc", "show", "dev", "eth0") == before


def test_counters_and_sockets_of_the_namespace(docker_client, tools_image, target):
    counters = tools(docker_client, tools_image, target, "nstat", "-az", "TcpExtListenOverflows", "TcpActiveOpens")
    assert re.search(r"^TcpExtListenOverflows\s+\d+", counters, re.MULTILINE), counters
    listening = tools(docker_client, tools_image, target, "ss", "-lnt")
    assert re.search(rf"LISTEN\s+\d+\s+16\s+0\.0\.0\.0:{PORT}\b", listening), listening


CAPTURE = (
    "import subprocess, sys\n"
    "subprocess.run(['tcpdump', '-i', 'eth0', '-c', '3', '-U', '-w', '/tmp/c.pcap', 'tcp port 9736'], check=True)\n"
    "sys.stdout.write(subprocess.run(['tcpdump', '-nn', '-r', '/tmp/c.pcap'], capture_output=True, text=True,"
    " check=True).stdout)\n"
)


def test_tcpdump_writes_a_capture_of_a_handshake(docker_client, tools_image, target):
    sidecar = (
        DockerContainer(tools_image)
        .with_command(["python3", "-c", CAPTURE])
        .with_kwargs(network_mode=f"container:{target.id}", cap_add=["NET_ADMIN", "NET_RAW"], labels=target.labels)
    )
    with sidecar:
        wait_for_log(sidecar, r"listening on eth0", timeout=30)
        assert connect(target.address) == "accepted"
        status = sidecar.get_wrapped_container().wait(timeout=30)
        out, err = sidecar.get_logs()
    packets = out.decode().splitlines()
    assert status["StatusCode"] == 0, err.decode()
    assert [re.search(r"Flags \[(\S+)\]", line)[1] for line in packets] == ["S", "S.", "."], packets
    assert all(f"{target.address}.{PORT}" in line for line in packets), packets


def test_strace_and_what_the_kernel_observer_imports_are_there(docker_client, tools_image, target):
    code = (
        "import ctypes, multiprocessing, pyroute2.netlink.diag as diag, socket, subprocess\n"
        "ds = diag.DiagSocket(); ds.bind()\n"
        "rows = ds.get_sock_stats(family=socket.AF_INET, states=1 << 10)\n"
        "print('listening', sorted(r['idiag_sport'] for r in rows))\n"
        "print(subprocess.run(['strace', '-V'], capture_output=True, text=True, check=True).stdout.splitlines()[0])\n"
    )
    out = tools(docker_client, tools_image, target, "python3", "-c", code)
    assert f"listening [{PORT}]" in out or re.search(rf"listening \[.*\b{PORT}\b", out), out  # the target's own
    assert out.splitlines()[-1].startswith("strace -- version"), out
