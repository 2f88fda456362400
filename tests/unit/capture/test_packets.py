"""The pcap reader names segments as the lesson does; the pcaps here are written with dpkt itself."""

from __future__ import annotations

import io
import socket

import dpkt
import pytest

from socklab.capture.diagram import Host, draw_sequence
from socklab.capture.packets import listing, read_segments
from socklab.cli.trace import parse_fault

CLIENT, SERVER = ("172.30.0.3", 40000), ("172.30.0.2", 9736)
S, A, F, R = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK, dpkt.tcp.TH_FIN, dpkt.tcp.TH_RST


def frame(src, dst, flags, seq, ack=0, data=b"", win=65535):
    tcp = dpkt.tcp.TCP(sport=src[1], dport=dst[1], seq=seq, ack=ack, flags=flags, data=data, win=win)
    ip = dpkt.ip.IP(src=socket.inet_aton(src[0]), dst=socket.inet_aton(dst[0]), p=dpkt.ip.IP_PROTO_TCP, data=tcp)
    ip.len += len(tcp)
    return bytes(dpkt.ethernet.Ethernet(data=ip, type=dpkt.ethernet.ETH_TYPE_IP))


def pcap(frames):
    out = io.BytesIO()
    writer = dpkt.pcap.Writer(out)
    for at, data in frames:
        writer.writepkt(data, ts=1000 + at)
    return out.getvalue()


def exchange(retransmit_a=False, reset=False):
    c, s = 5000, 9000  # initial sequence numbers
    frames = [
        (0.0, frame(CLIENT, SERVER, S, c)),
        (0.0001, frame(SERVER, CLIENT, S | A, s, c + 1)),
        (0.0002, frame(CLIENT, SERVER, A, c + 1, s + 1)),
        (0.001, frame(CLIENT, SERVER, A, c + 1, s + 1, b"A")),
    ]
    if retransmit_a:
        frames.append((0.21, frame(CLIENT, SERVER, A, c + 1, s + 1, b"A")))
    frames += [
        (0.211, frame(SERVER, CLIENT, A, s + 1, c + 2)),
        (5.0, frame(SERVER, CLIENT, A, s + 1, c + 2, b"B")),
        (5.001, frame(SERVER, CLIENT, F | A, s + 2, c + 2)),
        (5.002, frame(CLIENT, SERVER, R if reset else F | A, c + 2, s + 3)),
    ]
    return pcap(frames)


def test_one_exchange_reads_as_the_lesson_draws_it():
    segments = read_segments(exchange(), port=9736)
    assert [s.label for s in segments] == ["SYN", "SYN-ACK", "ACK", "'A'", "ACK", "'B'", "FIN-ACK", "FIN-ACK"]
    assert segments[0].time == 0 and segments[5].time == pytest.approx(5.0)
    assert (segments[3].seq, segments[5].seq, segments[5].ack) == (1, 1, 2)  # relative numbers


def test_a_repeated_data_segment_is_a_retransmission_and_a_reset_is_named():
    labels = [s.label for s in read_segments(exchange(retransmit_a=True, reset=True))]
    assert "'A' (retransmission)" in labels
    assert labels[-1] == "RST"


def test_a_zero_window_and_the_probes_that_test_it_are_named():
    c, s = 5000, 9000
    frames = [
        (0.0, frame(CLIENT, SERVER, S, c)),
        (0.0001, frame(SERVER, CLIENT, S | A, s, c + 1)),
        (0.0002, frame(CLIENT, SERVER, A, c + 1, s + 1)),
        (0.001, frame(CLIENT, SERVER, A, c + 1, s + 1, b"x" * 100)),
        (0.002, frame(SERVER, CLIENT, A, s + 1, c + 101, win=0)),  # the reader's buffer is full
        (0.2, frame(CLIENT, SERVER, A, c + 100, s + 1)),  # one byte behind: the kernel's probe
        (0.2001, frame(SERVER, CLIENT, A, s + 1, c + 101, win=0)),
        (0.6, frame(CLIENT, SERVER, A, c + 100, s + 1)),
        (0.7, frame(SERVER, CLIENT, A, s + 1, c + 101, win=512)),  # read: the window opens
        (0.7001, frame(CLIENT, SERVER, A, c + 101, s + 1)),  # a plain ACK is not a probe
    ]
    segments = read_segments(pcap(frames))
    assert [s.label for s in segments[3:]] == [
        "100 bytes",
        "ACK (window 0)",
        "probe",
        "ACK (window 0)",
        "probe",
        "ACK",
        "ACK",
    ]
    assert segments[5].at == pytest.approx(1000.2) and segments[4].window == 0


def test_a_short_snapshot_keeps_the_length_sent():
    c, s = 5000, 9000
    frames = [
        (0.0, frame(CLIENT, SERVER, S, c)),
        (0.001, frame(CLIENT, SERVER, A, c + 1, s + 1, b"y" * 1000)),
        (0.2, frame(CLIENT, SERVER, A, c + 1000, s + 1)),
    ]
    out = io.BytesIO()
    writer = dpkt.pcap.Writer(out, snaplen=128)
    for at, data in frames:
        writer.writepkt(data[:128], ts=1000 + at)  # what tcpdump -s 128 keeps
    segments = read_segments(out.getvalue())
    assert segments[1].size == 1000 and len(segments[1].payload) < 128 and segments[1].label == "1000 bytes"
    assert segments[2].label == "probe"  # one behind the 1000 bytes sent, not the bytes kept


def test_other_ports_are_left_out():
    assert read_segments(exchange(), port=80) == []


def test_the_listing_and_the_picture(tmp_path):
    segments = read_segments(exchange(retransmit_a=True))
    text = listing(segments, {CLIENT[0]: "client", SERVER[0]: "server"})
    assert "client -> server" in text and "'A' (retransmission)" in text
    picture = draw_sequence(
        segments, Host("client", CLIENT[0]), Host("server", SERVER[0]), tmp_path / "t.png", title="t"
    )
    assert picture.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(("text", "percent"), [("", 0.0), ("loss=30", 30.0), ("loss=2.5", 2.5)])
def test_fault_option(text, percent):
    assert parse_fault(text) == percent


@pytest.mark.parametrize("text", ["loss", "loss=x", "loss=0", "loss=100", "delay=3"])
def test_a_bad_fault_is_explained(text):
    with pytest.raises(ValueError, match=r"loss=PERCENT|between 0 and 100"):
        parse_fault(text)
