"""The probes on this machine's loopback (no Docker): they run and report what the kernel did."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from probes import kernel, sockets, tcpinfo
from support import ROOT

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the probes read Linux's /proc")


def run_probe(*args: str, timeout: float = 30) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT / "agents", capture_output=True, text=True, timeout=timeout, check=True
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_counters_have_the_listen_overflow_names():
    counters = kernel.counters()
    assert "ListenOverflows" in counters["TcpExt"] and "RetransSegs" in counters["Tcp"]


def test_a_probes_listener_takes_its_port_again_while_a_connection_of_it_is_in_time_wait():
    first = sockets.listener(0, 1)
    port = first.getsockname()[1]
    with socket.create_connection(("127.0.0.1", port)) as client:
        accepted, _ = first.accept()
        accepted.close()  # the server's side closes first: it holds TIME_WAIT on the port
        assert client.recv(1) == b""
    first.close()
    again = sockets.listener(port, 1)
    try:
        assert again.getsockname()[1] == port
    finally:
        again.close()


def test_a_sleeping_process_shows_state_and_wait_channel():
    code = "import time; print('sleeping', flush=True); time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "sleeping\n"
        for _ in range(1000):  # the last microseconds between the print and the sleep
            seen = kernel.process(child.pid)
            if seen["state"] == "S" and "nanosleep" in seen["wchan"]:
                break
        assert seen["state"] == "S" and "nanosleep" in seen["wchan"] and seen["ppid"] == os.getpid()
    finally:
        child.kill()
        child.wait()


def test_the_fifo_pair_answers_blocks_and_ends_with_eof():
    (done,) = run_probe("probes.fifo", "--delay", "0.3")
    assert done["answer"] == "B" and done["eof_after_close"]
    assert done["read_blocked_seconds"] >= 0.25
    assert done["read_on_write_end"] == "EBADF" and done["mode"].startswith("p")


def test_order_probe_sees_few_reads_and_whole_datagrams():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    server = subprocess.Popen(
        [sys.executable, "-m", "probes.order", "serve", "--port", port],
        cwd=ROOT / "agents",
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        assert json.loads(server.stdout.readline())["event"] == "listening"
        run_probe("probes.order", "send", "--server", "127.0.0.1", "--port", port, "--writes", "200")
        events = {e["event"]: e for e in map(json.loads, server.stdout)}
    finally:
        server.kill()
        server.wait()
    assert events["tcp_done"]["bytes"] == 2000 and events["tcp_done"]["in_order"]
    assert events["tcp_done"]["reads"] < 200
    assert events["udp_done"]["sizes"] == [10]


def pair():
    """A connected pair of TCP sockets on loopback: (client, server side)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname(), timeout=5)
        server, _ = listener.accept()
    return client, server


def test_tcp_info_is_read_from_the_socket_itself():
    client, server = pair()
    with client, server:
        client.sendall(b"x" * 1000)
        assert server.recv(10) == b"x" * 10
        info, queued = tcpinfo.tcp_info(client), tcpinfo.queues(server)
        assert info["state"] == "ESTABLISHED" and info["ca_state"] == "Open"
        assert info["snd_cwnd"] >= 1 and info["snd_mss"] > 0 and info["rto"] >= 200_000  # microseconds
        assert info["snd_ssthresh"] == tcpinfo.INFINITE_SSTHRESH  # no loss yet
        assert queued["unread"] == 990  # SIOCINQ: received, not read
        assert tcpinfo.congestion_control(client)  # whatever this kernel's default is
        server.shutdown(socket.SHUT_WR)
        assert client.recv(1) == b""
        assert tcpinfo.tcp_info(client)["state"] == "CLOSE_WAIT"


def test_an_old_kernels_shorter_tcp_info_gives_the_fields_it_has():
    client, server = pair()
    with client, server:
        raw = client.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 512)
    short = tcpinfo.parse(raw[:104])  # the struct as Linux 2.6 had it
    assert short["state"] == "ESTABLISHED" and "snd_cwnd" in short and "bytes_acked" not in short


def test_a_restarted_server_binds_only_if_both_servers_set_so_reuseaddr():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    found = {}
    for first, second in ((True, False), (True, True)):
        args = ["--port", port, "--connections", "1", "--closer", "server"]
        server = subprocess.Popen(
            [sys.executable, "-m", "probes.rebind", "serve", *args, *(["--reuseaddr"] if first else [])],
            cwd=ROOT / "agents",
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None and json.loads(server.stdout.readline())["ok"]
            assert json.loads(server.stdout.readline())["event"] == "listening"
            (done,) = run_probe("probes.rebind", "call", "--server", "127.0.0.1", "--port", port)
            assert done["received"] == "B"
            assert server.wait(timeout=10) == 0
        finally:
            server.kill()
        restart = subprocess.run(
            [sys.executable, "-m", "probes.rebind", "serve", "--port", port, "--connections", "0"]
            + (["--reuseaddr"] if second else []),
            cwd=ROOT / "agents",
            capture_output=True,
            text=True,
            timeout=30,
        )
        found[second] = json.loads(restart.stdout.splitlines()[0])
    assert found[False]["ok"] is False and found[False]["errno"] == "EADDRINUSE"  # the first one's TIME_WAIT
    assert found[True]["ok"] is True


def test_nagle_and_the_delayed_ack_stall_even_on_loopback():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    server = subprocess.Popen(
        [sys.executable, "-m", "probes.nagle", "serve", "--port", port], cwd=ROOT / "agents", stdout=subprocess.PIPE
    )
    try:
        assert server.stdout is not None and json.loads(server.stdout.readline())["event"] == "listening"
        events = run_probe("probes.nagle", "send", "--server", "127.0.0.1", "--port", port, "--exchanges", "6")
    finally:
        server.kill()
        server.wait()
    times = {e["mode"]: sorted(e["seconds"]) for e in events if e["event"] == "mode_done"}
    assert times["nagle"][3] >= 0.030  # the delayed-ACK timer (40 ms) in most exchanges
    assert times["nodelay"][3] < 0.010


def test_a_reader_that_stops_closes_its_window_and_every_byte_arrives_after():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    agents = ROOT / "agents"
    reader = subprocess.Popen(
        [sys.executable, "-m", "probes.window", "serve", "--port", port], cwd=agents, stdout=subprocess.PIPE
    )
    writer = None
    try:
        assert reader.stdout is not None and json.loads(reader.stdout.readline())["event"] == "listening"
        writer = subprocess.Popen(
            [sys.executable, "-m", "probes.window", "send", "--server", "127.0.0.1", "--port", port, "--watch", "20"],
            cwd=agents,
            stdout=subprocess.PIPE,
        )
        assert writer.stdout is not None
        blocked = json.loads(writer.stdout.readline())
        assert blocked["event"] == "blocked" and blocked["snd_wnd"] == 0 and blocked["unacked_out"] > 0
        assert json.loads(reader.stdout.readline())["event"] == "accepted"
        reader.send_signal(signal.SIGUSR1)
        events = {e["event"]: e for e in map(json.loads, [reader.stdout.readline(), reader.stdout.readline()])}
        done = json.loads(writer.stdout.readline())
    finally:
        for process in (reader, writer):
            if process is not None:
                process.kill()
                process.wait()
    assert events["done"]["received"] == blocked["sent"] == done["sent"] and events["done"]["intact"]
    assert done["drained"] and min(s["snd_wnd"] for s in done["samples"]) == 0


def test_a_bulk_transfer_is_sampled_and_the_receiver_tallies_every_byte():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    agents = ROOT / "agents"
    receiver = subprocess.Popen(
        [sys.executable, "-m", "probes.bulk", "serve", "--port", port], cwd=agents, stdout=subprocess.PIPE, text=True
    )
    sender = None
    try:
        assert receiver.stdout is not None and json.loads(receiver.stdout.readline())["event"] == "listening"
        command = ["probes.bulk", "send", "--port", port, "--seconds", "0.3", "--target=one=127.0.0.1", "--linger", "0"]
        sender = subprocess.Popen([sys.executable, "-m", *command], cwd=agents, stdout=subprocess.PIPE, text=True)
        assert sender.stdout is not None and json.loads(sender.stdout.readline())["event"] == "ready"
        sender.send_signal(signal.SIGUSR1)
        transfer = json.loads(sender.stdout.readline())
        assert json.loads(sender.stdout.readline())["event"] == "done"
        receiver.send_signal(signal.SIGUSR1)
        (tally,) = json.loads(receiver.stdout.readline())["connections"]
    finally:
        for process in (receiver, sender):
            if process is not None:
                process.kill()
                process.wait()
    assert transfer["finished"] and transfer["bytes_acked"] == transfer["written"] > 0
    assert tally == {
        "peer": transfer["local"],
        "read": transfer["written"],
        "unread": 0,
        "intact": True,
        "ending": "eof",
    }
    fields = transfer["fields"]
    cwnd = [sample[fields.index("cwnd")] for sample in transfer["samples"]]
    assert len(cwnd) > 10 and min(cwnd) >= 1 and transfer["algorithm"]
