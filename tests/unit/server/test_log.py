import io

import pytest

from server.log import Log, Peer, parse_served


def written(action) -> str:
    stream = io.StringIO()
    action(Log(stream))
    return stream.getvalue()


@pytest.mark.parametrize(
    "peer",
    [Peer("172.18.0.3", 40122, "socklab-client-1.socklab_lab"), Peer("10.0.0.7", 1, None), Peer("::1", 5, None)],
)
@pytest.mark.parametrize(("request_byte", "reply"), [(0x41, 0x42), (0xFF, 0x00), (0x20, 0x21)])
def test_a_served_line_reads_back_as_written(peer, request_byte, reply):
    line = written(lambda log: log.served(peer, request_byte, reply, 5.0021))
    record = parse_served(line)
    assert record is not None
    assert (record.peer, record.request, record.reply, record.seconds) == (peer, request_byte, reply, 5.002)


def test_each_line_is_one_timestamped_line():
    text = written(lambda log: log.waiting())
    assert text.count("\n") == 1 and text.endswith("server waiting for a connection\n")
    assert text[2] == ":" and text[8] == "."  # HH:MM:SS.mmm


def test_other_lines_are_not_served_records():
    assert parse_served("12:00:00.000 server waiting for a connection") is None
    assert parse_served(written(lambda log: log.empty(Peer("1.2.3.4", 5)))) is None


def test_the_c_witness_line_format_is_read_too():
    record = parse_served("served 172.18.0.5:51234 0x41 -> 0x42 in 5.00 s")
    assert record is not None and record.peer.address == "172.18.0.5" and record.reply == 0x42
