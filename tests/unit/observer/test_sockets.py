"""The one socket reader: the kernel's INET_DIAG rows as the log's sockets, and only what changed.

The samples are real: ``python3 -m observer.sockets --raw`` in the namespace of socklab's serial server (backlog 5,
delay 3 s) while four clients waited (``serial-queue``) and after they were answered (``serial-after``), and of the
serial server with backlog 1 as six clients connected at once, from the server's side and from theirs (``overflow-*``).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from observer.sockets import Changes, Row, names_of, rows_of

SAMPLES = Path(__file__).parent / "samples"
SERVER = "192.168.144.3"


def raw(name: str) -> list[dict]:
    return json.loads((SAMPLES / f"rows-{name}.json").read_text())["value"]


def by_key(rows: list[Row]) -> dict[str, Row]:
    return {row.key: row for row in rows}


def test_a_listener_shows_its_accept_queue_against_its_backlog():
    rows = by_key(rows_of(raw("serial-queue")))
    listener = rows["0.0.0.0:9736"]
    assert (listener.state, listener.recv_q, listener.backlog, listener.send_q, listener.peer) == (
        "LISTEN",
        3,
        5,
        None,
        None,
    )
    assert listener.rtt_ms is None and listener.conn is None


def test_linux_holds_backlog_plus_one_completed_connections():
    listener = by_key(rows_of(raw("overflow-server")))["0.0.0.0:9736"]
    assert (listener.recv_q, listener.backlog) == (2, 1)


def test_the_servers_connections_are_keyed_local_to_peer_and_named_client_to_server():
    rows = [r for r in rows_of(raw("serial-queue")) if r.state == "ESTABLISHED"]
    assert len(rows) == 4
    for row in rows:
        assert row.key == f"{row.local}>{row.peer}" and row.local == f"{SERVER}:9736"
        assert row.conn == f"{row.peer}>{row.local}"  # the server's side is on the listening port
        assert row.rtt_ms is not None and row.cwnd == 10 and row.retrans == 0
    assert sorted(r.recv_q for r in rows) == [0, 1, 1, 1]  # three 'A's wait unread in the queued connections


def test_a_client_names_its_connection_the_same_way_and_shows_its_syn_retransmission():
    rows = [r for r in rows_of(raw("overflow-clients")) if r.state == "ESTABLISHED"]
    assert all(r.conn == f"{r.local}>{r.peer}" for r in rows)
    retried = [r for r in rows if r.retrans]
    assert len(retried) == 4 and all(r.rtt_ms == 1.0 for r in retried)  # the SYN sent again after 1 s


def test_time_wait_has_no_tcp_info():
    waiting = [r for r in rows_of(raw("serial-after")) if r.state == "TIME_WAIT"]
    assert len(waiting) == 5 and all((r.rtt_ms, r.cwnd, r.retrans) == (None, None, None) for r in waiting)


def test_listeners_on_one_address_get_keys_of_their_own():
    listener = next(r for r in raw("serial-queue") if r["sport"] == 9736 and r["state"] == 10)
    second = {**listener, "cookie": listener["cookie"] + 1000, "rqueue": 0}
    keys = [r.key for r in rows_of([second, listener]) if r.state == "LISTEN"]
    assert keys == ["0.0.0.0:9736", "0.0.0.0:9736#2"]  # ordered by cookie: stable from one sample to the next


def test_only_changes_are_reported_and_what_vanished_is_gone():
    changes = Changes()
    first = changes.update(rows_of(raw("serial-queue")))
    assert len(first) == 6  # all new: Docker's DNS listener, ours, four connections
    assert changes.update(rows_of(raw("serial-queue"))) == []
    after = by_key(changes.update(rows_of(raw("serial-after"))))
    assert after["0.0.0.0:9736"].recv_q == 0
    assert {r.state for r in after.values() if r.local == f"{SERVER}:9736"} == {"TIME_WAIT", "GONE"}
    assert "127.0.0.11:38969" not in after  # Docker's DNS listener did not change
    gone = changes.update([])
    assert {r.state for r in gone} == {"GONE"} and len(gone) == 7


def test_rtt_jitter_is_no_change_but_a_rtt_that_moved_is():
    row = next(r for r in rows_of(raw("serial-queue")) if r.state == "ESTABLISHED" and r.rtt_ms and r.rtt_ms > 0.01)
    changes = Changes()
    changes.update([row])
    assert changes.update([replace(row, rtt_ms=row.rtt_ms * 1.1)]) == []
    assert changes.update([replace(row, rtt_ms=row.rtt_ms * 3 + 1)]) != []


def test_the_sampler_reads_this_hosts_own_loopback():
    pytest.importorskip("pyroute2.netlink.diag")
    from observer.sockets import Sampler

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
        sampler = Sampler()
        try:
            rows = [r for r in sampler.sample() if r.local == f"127.0.0.1:{port}" or r.peer == f"127.0.0.1:{port}"]
        finally:
            sampler.close()
            for client in clients:
                client.close()
    listening = next(r for r in rows if r.state == "LISTEN")
    assert (listening.recv_q, listening.backlog) == (2, 1)  # backlog 1 holds 2: Linux's "more than backlog" rule
    ends = [r for r in rows if r.state == "ESTABLISHED"]
    assert len(ends) == 4 and len({r.conn for r in ends}) == 2  # two connections, each seen from both ends


def test_names_of_gives_each_socket_with_an_inode_its_key():
    rows = raw("serial-queue")
    with_inodes = [{**r, "inode": 1000 + k if r["state"] != 6 else 0} for k, r in enumerate(rows)]
    names = names_of(with_inodes)
    assert names[1001] == "0.0.0.0:9736" and names[1002] == f"{SERVER}:9736>192.168.144.1:37432"
    assert 0 not in names


def test_the_tracer_names_a_socket_strace_knows_by_inode():
    pytest.importorskip("pyroute2.netlink.diag")
    from observer.trace import Names

    names = Names()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            accepted, (_, client_port) = listener.accept()
            with accepted:
                assert names(os.fstat(listener.fileno()).st_ino) == f"127.0.0.1:{port}"
                assert names(os.fstat(accepted.fileno()).st_ino) == f"127.0.0.1:{port}>127.0.0.1:{client_port}"
                assert names(os.fstat(client.fileno()).st_ino) == f"127.0.0.1:{client_port}>127.0.0.1:{port}"
    assert names(2**40) is None and 2**40 in names.missed  # looked up once, not again at every call


def test_accepted_means_no_queue_on_the_listener_and_no_handshake_half_done():
    from observer.sockets import accepted

    rows = by_key(rows_of(raw("serial-queue")))
    listener = rows["0.0.0.0:9736"]
    assert not accepted(listener)  # three connections wait for accept()
    assert accepted(replace(listener, recv_q=0))
    established = next(r for r in rows.values() if r.state == "ESTABLISHED")
    assert accepted(established) and not accepted(replace(established, state="SYN_RECV"))
