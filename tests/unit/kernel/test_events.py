"""The observer's and the tracer's words as the log's packet, socket and syscall data (no Docker)."""

from __future__ import annotations

import base64
import socket

import dpkt

from socklab.kernel.events import Packets, is_probe, socket_data, syscall_data

CLIENT, SERVER, GATEWAY = ("172.30.0.3", 40000), ("172.30.0.2", 9736), ("172.30.0.1", 51000)
S, A, F = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK, dpkt.tcp.TH_FIN


def frame(src, dst, flags, seq, ack=0, data=b"", cut: int | None = None) -> str:
    tcp = dpkt.tcp.TCP(sport=src[1], dport=dst[1], seq=seq, ack=ack, flags=flags, data=data)
    ip = dpkt.ip.IP(src=socket.inet_aton(src[0]), dst=socket.inet_aton(dst[0]), p=dpkt.ip.IP_PROTO_TCP, data=tcp)
    ip.len += len(tcp)
    raw = bytes(dpkt.ethernet.Ethernet(data=ip, type=dpkt.ethernet.ETH_TYPE_IP))
    return base64.b64encode(raw[:cut]).decode()


def exchange(client=CLIENT):
    c, s = 5000, 9000
    return [
        frame(client, SERVER, S, c),
        frame(SERVER, client, S | A, s, c + 1),
        frame(client, SERVER, A, c + 1, s + 1),
        frame(client, SERVER, A, c + 1, s + 1, b"A"),
        frame(SERVER, client, A, s + 1, c + 2, b"B"),
        frame(SERVER, client, F | A, s + 2, c + 2),
        frame(client, SERVER, F | A, c + 2, s + 3),
    ]


def test_both_ends_name_a_connection_client_to_server():
    at_client, at_server = Packets(port=9736), Packets(port=9736)
    seen = [
        (at_client.data(1.0 + k, f, outgoing=False), at_server.data(1.0 + k, f, outgoing=False))
        for k, f in enumerate(exchange())
    ]
    conns = {d["conn"] for pair in seen for d in pair if d}
    assert conns == {"172.30.0.3:40000>172.30.0.2:9736"}
    labels = [pair[1]["label"] for pair in seen]
    assert labels == ["SYN", "SYN-ACK", "ACK", "'A'", "'B'", "FIN-ACK", "FIN-ACK"]
    assert seen[3][1]["payload"] == [65] and seen[3][1]["length"] == 1 and seen[4][1]["seq"] == 1


def test_a_connection_met_after_its_syn_is_named_by_the_labs_port():
    late = Packets(port=9736)
    data = late.data(1.0, exchange()[4], outgoing=True)  # 'B', from the server
    assert data is not None and data["conn"] == "172.30.0.3:40000>172.30.0.2:9736"


def test_the_readiness_check_from_the_gateway_is_a_probe():
    packets = Packets(port=9736, probes_from=frozenset({GATEWAY[0]}))
    assert packets.data(1.0, exchange(GATEWAY)[0], outgoing=False)["probe"] is True
    assert packets.data(1.0, exchange()[0], outgoing=False)["probe"] is False


def test_a_cut_frame_says_how_long_its_payload_was_on_the_wire():
    big = frame(CLIENT, SERVER, A, 5001, 9001, b"x" * 1000, cut=14 + 20 + 20 + 64)
    data = Packets(port=9736).data(1.0, big, outgoing=True)
    assert data is not None and data["length"] == 1000 and len(data["payload"]) == 64 and data["label"] == "1000 bytes"


def test_what_is_no_tcp_frame_is_no_packet():
    packets = Packets(port=9736)
    assert packets.data(1.0, "!!not base64!!", outgoing=False) is None
    assert packets.data(1.0, base64.b64encode(b"\x00" * 60).decode(), outgoing=False) is None


def test_sockets_that_are_not_the_lessons_are_probes():
    row = {"key": "k", "local": "172.30.0.2:9736", "peer": "172.30.0.1:40000", "state": "ESTABLISHED"}
    assert socket_data(row, frozenset({"172.30.0.1"}))["probe"] is True
    assert socket_data({**row, "peer": "172.30.0.3:4"}, frozenset({"172.30.0.1"}))["probe"] is False
    dns = {"key": "127.0.0.11:38969", "local": "127.0.0.11:38969", "peer": None, "state": "LISTEN"}
    assert socket_data(dns, frozenset())["probe"] is True  # Docker's embedded DNS, in every container
    assert is_probe("[::1]:9736", frozenset()) and not is_probe(None, frozenset())


def test_a_system_call_on_a_connection_names_it_as_its_packets_do():
    fields = {"t": 1.0, "pid": 7, "call": "recvfrom", "args": '4, "A", 1', "result": "1", "seconds": 0.0,
              "done": True, "fd": 4, "socket": "172.30.0.2:9736>172.30.0.3:40000"}  # fmt: skip
    data = syscall_data(fields)
    assert data["conn"] == "172.30.0.3:40000>172.30.0.2:9736" and "t" not in data
    assert syscall_data({**fields, "socket": None})["conn"] is None
