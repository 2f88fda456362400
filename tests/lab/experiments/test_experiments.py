"""Each experiment on real containers: the tests check the kernel's numbers, not the sentences."""

from __future__ import annotations

import pytest

from socklab.experiments import backlog, blocking, order, pipe, stream_vs_datagram, unix, zombies
from socklab.lab.labels import RUN

pytestmark = pytest.mark.lab


def leftovers(docker_client, purpose: str) -> list[str]:
    selector = {"label": f"io.socklab.purpose=experiment-{purpose}"}
    return [c.name for c in docker_client.containers.list(all=True, filters=selector)] + [
        n.name for n in docker_client.networks.list(filters=selector)
    ]


def test_backlog_completes_backlog_plus_one_and_drops_the_rest(probes_image, docker_client, tmp_path):
    chosen = [v for v in backlog.VARIANTS if v.name in ("default", "slow_link", "slow_link_abort")]
    result = backlog.run(probes_image=probes_image, backlog=2, clients=6, hold=2.0, variants=chosen, plot_dir=tmp_path)
    n = result.numbers
    assert (n["backlog"], n["clients"]) == (2, 6)
    assert n["completed"] == 3, n  # Linux: the queue is full when it holds more than the backlog
    assert n["listen_overflows"] > 0 and n["listen_drops"] > 0
    default = n["variants"][0]
    assert default["connected_before_accept"] == 3 and default["connected_after_accept"] == 3
    assert default["outcomes"] == {"ok": 6}  # dropped SYNs are retried: everyone is served in the end
    assert default["first_late_connect_s"] >= default["accept_resumed_s"]
    variants = {v["variant"]: v for v in n["variants"]}
    slow = variants["slow_link"]
    # Overlapping handshakes: connect() returns for clients the full queue had no room for.
    assert slow["completed"] == 3 and slow["connected_before_accept"] > slow["completed"]
    assert variants["slow_link_abort"]["reset"] >= 1  # tcp_abort_on_overflow=1: the only "refusal"
    assert (tmp_path / "backlog-timeline.png").stat().st_size > 0
    assert not leftovers(docker_client, "backlog")


def test_blocking_calls_sleep_in_the_kernel(probes_image):
    result = blocking.run(probes_image=probes_image, delay=1.0)
    accept, read = result.numbers["accept"], result.numbers["client_read"]
    assert accept["state"] == "S" and "accept" in accept["wchan"]
    assert read["state"] == "S" and read["wchan"] not in ("", "0")
    assert read["blocked_seconds"] >= 0.9
    assert result.agrees, result.text()


def test_only_the_parent_that_never_waits_leaves_zombies(probes_image):
    result = zombies.run(probes_image=probes_image, clients=5, delay=0.1)
    modes = result.numbers["modes"]
    assert all(m["answered"] == 5 for m in modes.values()), modes
    assert modes["ignore"]["zombies_after"] == 0 and modes["reap"]["zombies_after"] == 0
    assert modes["default"]["zombies_after"] == 5


def test_a_fifo_pair_and_a_socket_make_the_same_exchange(probes_image):
    result = pipe.run(probes_image=probes_image, delay=0.5)
    fifo, tcp = result.numbers["fifo"], result.numbers["tcp"]
    assert fifo["answer"] == tcp["answer"] == "B"
    assert fifo["eof_after_close"] and tcp["eof_after_close"]
    assert fifo["read_on_write_end"] == "EBADF"  # one direction per FIFO end
    assert tcp["client"] != tcp["server"]


def test_a_stream_keeps_order_not_writes_and_datagrams_keep_boundaries(probes_image):
    result = order.run(probes_image=probes_image, writes=500, size=10)
    tcp, udp = result.numbers["tcp"], result.numbers["udp"]
    assert tcp["bytes"] == 5000 and tcp["in_order"]
    assert tcp["reads"] < 500
    assert udp["sizes"] == [10]


def test_the_stage_labels_what_it_makes(probes_image, docker_client):
    from socklab.experiments.stage import Stage

    with Stage("labels", probes_image=probes_image) as stage:
        container = stage.start("idle", ["probes.kernel", "sysctls"])
        labels = container.sdk.labels
        assert labels[RUN] == stage.run_id
    assert not leftovers(docker_client, "labels")


def test_the_stage_observes_a_containers_sockets_from_netlink(probes_image, lab_images, docker_client, tools_image):
    """``Stage.observe(target, "sockets")``: the one socket reader, from outside the container, any image."""
    import socket

    from socklab.experiments.stage import Stage

    with Stage("sockets", probes_image=probes_image) as stage:
        server = stage.start("server", ["probes.server", "--port", "9736", "--backlog", "2", "--hold"], alias="held")
        stage.wait_for_event(server, "listening")
        address = server.address()
        clients = [socket.create_connection((address, 9736), timeout=5) for _ in range(3)]
        try:
            first, second = stage.observe(server, "sockets", "9736", "--samples", "2", "--interval", "0.1")
        finally:
            for client in clients:
                client.close()
    for rows in (first, second):
        listener = next(row for row in rows if row["state"] == "LISTEN")
        assert (listener["recv_q"], listener["backlog"], listener["rx_queue"]) == (3, 2, 3)  # backlog + 1
        held = [row for row in rows if row["state"] == "ESTABLISHED"]
        assert len(held) == 3 and all(row["conn"] == f"{row['peer']}>{address}:9736" for row in held)
        assert all(row["remote"] == row["peer"] for row in held)  # the names probes.kernel used
    assert not leftovers(docker_client, "sockets")


def test_a_unix_socket_is_a_file_and_without_it_nobody_gets_in(probes_image, lab_images, docker_client):
    result = unix.run(probes_image=probes_image, server_image=lab_images.server, client_image=lab_images.client)
    n = result.numbers
    assert n["file"]["is_socket"] and n["file"]["mode"].startswith("s") and n["file"]["owner"] == "socklab"
    assert n["first_client"] == {**n["first_client"], "exit_code": 0, "received": "B"}
    assert n["server_after_removal"] == "running"
    assert any(s["listening"] for s in n["kernel_after_removal"])  # the kernel still has the listener
    assert n["late_client"]["exit_code"] == 3 and "No such file" in n["late_client"]["error"]
    assert not docker_client.volumes.list(filters={"label": "io.socklab.purpose=experiment-unix"})


@pytest.mark.experiments
def test_under_loss_tcp_answers_everyone_and_udp_does_not(probes_image, lab_images, tmp_path):
    result = stream_vs_datagram.run(
        probes_image=probes_image,
        server_image=lab_images.server,
        client_image=lab_images.client,
        udp_server_image=lab_images.servers["async"],
        exchanges=20,
        plot_dir=tmp_path,
    )
    tcp, udp = result.numbers["tcp"], result.numbers["udp"]
    assert tcp["answered"] == 20 and tcp["retransmitted_segments"] > 0
    assert udp["lost"] > 0 and udp["datagrams_in"] < 20  # 20 % of 20 each way: none lost is a 1-in-10,000 run
    assert (tmp_path / "stream-vs-datagram.png").exists()
