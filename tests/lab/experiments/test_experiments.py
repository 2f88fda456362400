"""Each experiment on real containers: the tests check the kernel's numbers, not the sentences."""

from __future__ import annotations

import itertools
import statistics

import pytest

from socklab.experiments import (
    backlog,
    blocking,
    congestion,
    crash,
    crash_rules,
    half_close,
    nagle,
    order,
    pipe,
    stream_vs_datagram,
    time_wait,
    unix,
    zero_window,
    zombies,
)
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


# --- issue 20: more of the lesson --------------------------------------------------------------------------
def test_nagle_and_the_delayed_ack_stall_each_exchange_and_nodelay_does_not(probes_image, docker_client):
    result = nagle.run(probes_image=probes_image, exchanges=20)
    stalled, quick = result.numbers["modes"]["nagle"], result.numbers["modes"]["nodelay"]
    assert stalled["median_ms"] >= nagle.STALLED_MS and stalled["stalled"] >= 15, stalled
    assert stalled["server_ato_ms"] >= 40 and stalled["server_delayed_acks"] >= 15  # the server's kernel says why
    assert quick["median_ms"] < nagle.FAST_MS and quick["server_delayed_acks"] < 5, quick
    # On the wire: the second half of the request leaves only when the delayed ACK of the first comes back.
    second_write = [step for step in stalled["exchange_on_the_wire"] if "→ 20 bytes" in step][1]
    assert float(second_write.split()[0]) >= 30.0, stalled["exchange_on_the_wire"]
    assert result.agrees, result.text()
    assert not leftovers(docker_client, "nagle")


def test_the_closer_holds_time_wait_and_a_restart_needs_so_reuseaddr_on_both_servers(probes_image, docker_client):
    result = time_wait.run(probes_image=probes_image)
    first = result.numbers["server_closes_first"]
    assert first["reuse"]["server_left"] == ["TIME_WAIT"] and first["reuse"]["client_left"] == []
    assert result.numbers["client_closes_first"] == {"server_left": [], "client_left": ["TIME_WAIT"]}
    assert first["reuse"]["restart_without"]["errno"] == "EADDRINUSE" and first["reuse"]["restart_with"]["bound"]
    assert first["plain"]["restart_with"]["errno"] == "EADDRINUSE"  # Linux: the TIME_WAIT keeps the old setting
    assert first["reuse"]["restarted_after_s"] < 30  # "at once": well inside TIME_WAIT's 60 s
    assert not leftovers(docker_client, "time-wait")


def test_a_reader_that_stops_closes_the_window_and_the_sender_probes_it(probes_image, docker_client):
    result = zero_window.run(probes_image=probes_image, hold=3.0)
    sender, reader, on_wire = result.numbers["sender"], result.numbers["reader"], result.numbers["wire"]
    assert sender["peer_window_when_full"] == 0 and sender["queued_when_full"] > 0
    assert reader["smallest_window_advertised"] == 0 and reader["unread_when_resumed"] > 0
    assert sender["window_probes"] >= zero_window.MIN_PROBES and on_wire["probes"] >= zero_window.MIN_PROBES
    assert on_wire["zero_window_acks"] >= on_wire["probes"]  # each probe answered: still nothing read
    gaps = on_wire["probe_gaps_s"]
    assert all(later > earlier for earlier, later in itertools.pairwise(gaps)), gaps  # backing off
    assert reader["received"] == sender["written"] and reader["intact"] and sender["drained"]
    assert not leftovers(docker_client, "zero-window")


def test_the_lab_servers_answer_a_half_closed_client(probes_image, lab_images, docker_client):
    result = half_close.run(
        probes_image=probes_image, server_image=lab_images.servers["fork"], c_server_image=lab_images.servers["c-fork"]
    )
    for there in result.numbers["servers"].values():
        half, closed = there["connections"]["shutdown"], there["connections"]["close"]
        assert half["client_state_after_shutdown"] == "FIN_WAIT2"
        assert half["server_state_while_it_waits"] == ["CLOSE_WAIT"]  # it has our FIN, it has not closed
        assert half["answer"] == "B" and half["eof_after_answer"]
        assert half["client_state_after"] == ["TIME_WAIT"] and half["server_state_after"] == []
        assert "← 'B'" in half["wire"] and "→ RST" not in half["wire"]
        assert closed["wire"][-2:] == ["← 'B'", "→ RST"] and closed["server_logged_served"]
    assert result.agrees, result.text()
    assert not leftovers(docker_client, "half-close")


@pytest.mark.experiments
def test_what_a_waiting_client_sees_when_its_server_goes_away(probes_image, docker_client):
    result = crash.run(probes_image=probes_image)
    v = result.numbers["variants"]
    for ends in (v["kill"]["plain"], v["kill"]["keepalive"]):
        assert [s["what"] for s in ends["seen"]][:3] == ["eof", "write_after_eof", "reset"], ends
        assert "← RST" in ends["wire"]
    assert v["partition"]["plain"]["seen"] == [] and v["partition"]["keepalive"]["first"] == "timeout"
    low, high = crash_rules.keepalive_window()  # idle + count x interval after the last reply, give or take
    assert low <= v["partition"]["keepalive"]["first_after_s"] <= high
    assert v["pause"]["keepalive"]["first"] == "answer"  # the frozen host's kernel answered every probe
    assert v["pause"]["keepalive"]["first_after_s"] >= v["pause"]["keepalive"]["released_after_s"]
    assert [s["what"] for s in v["stop"]["plain"]["seen"]] == ["answer", "eof"]
    assert result.numbers["client_counters"]["TCPAbortOnTimeout"] >= 1
    assert result.agrees, result.text()
    assert not leftovers(docker_client, "crash")


@pytest.mark.experiments
def test_loss_shrinks_the_window_reno_halves_it_and_every_byte_arrives(probes_image, docker_client, tmp_path):
    result = congestion.run(probes_image=probes_image, plot_dir=tmp_path)
    runs = result.numbers["runs"]
    for levels in runs.values():
        assert all(congestion.whole(r) for r in levels.values()), levels
        assert levels["20"]["mbit_per_s"] < congestion.SLOWER * levels["0"]["mbit_per_s"]
    reno = [ratio for r in runs["reno"].values() for ratio in r["cut_ratios"]]
    assert (
        len(reno) >= congestion.MIN_CUTS and congestion.HALVING[0] <= statistics.median(reno) <= congestion.HALVING[1]
    )
    if runs["default"]["0"]["algorithm"] == "bbr":  # this machine's default: model-based, it does not back off
        assert any(d.startswith("bbr (this kernel) does not cut") for d in result.differences), result.text()
    assert (tmp_path / "congestion.png").stat().st_size > 0
    assert not leftovers(docker_client, "congestion")
