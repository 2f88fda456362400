"""The server's ``served`` line: written by the server's log, read back by the host to place requests in time."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from server.log import Log
from wire import Peer, ServedRecord, describe, parse_served, parse_served_log


@pytest.mark.parametrize(
    "peer",
    [
        Peer("172.18.0.3", 40122, "socklab-client-1.socklab_lab"),
        Peer("10.0.0.7", 1, None),
        Peer("::1", 5, None),
        Peer("unix", 3, None),
    ],
)
@pytest.mark.parametrize(("request_byte", "reply"), [(0x41, 0x42), (0xFF, 0x00), (0x20, 0x21)])
def test_a_served_line_reads_back_as_written(peer, request_byte, reply):
    record = ServedRecord(peer, request_byte, reply, 5.002, at=dt.time(12, 0, 5, 2000))
    assert parse_served(record.to_line()) == record


def test_the_servers_own_log_line_carries_when_it_answered():
    stream = io.StringIO()
    before = dt.datetime.now(dt.UTC)
    Log(stream).served(Peer("172.18.0.3", 40122), 0x41, 0x42, 5.0021)
    record = parse_served(stream.getvalue())
    assert record is not None and record.seconds == 5.002 and record.at is not None
    accepted, answered = record.interval(before.date()) or (0.0, 0.0)
    assert abs(answered - before.timestamp()) < 1.0  # the stamp is UTC, today
    assert answered - accepted == pytest.approx(5.002)


def test_the_c_servers_line_is_read_and_placed_by_the_engines_stamp():
    record = parse_served("2026-11-25T13:00:05.123456789Z served 172.18.0.5:51234 0x41 -> 0x42 in 5.00 s")
    assert record is not None
    assert (record.peer.address, record.peer.port, record.request, record.reply) == ("172.18.0.5", 51234, 0x41, 0x42)
    assert record.at is None
    start, end = record.interval() or (0.0, 0.0)
    assert end == dt.datetime(2026, 11, 25, 13, 0, 5, 123456, tzinfo=dt.UTC).timestamp()
    assert end - start == pytest.approx(5.0)


def test_without_any_stamp_a_record_cannot_be_placed():
    record = parse_served("served 172.18.0.5:51234 0x41 -> 0x42 in 5.00 s")
    assert record is not None and record.interval(dt.date(2026, 1, 1)) is None


def test_other_lines_are_not_served_records():
    log = "\n".join(
        [
            "12:00:00.000 server waiting for a connection",
            "12:00:00.001 empty 1.2.3.4:5: closed without sending",
            "12:00:00.002 served 1.2.3.4:5: 'A' (0x41) -> 'B' (0x42) in 0.001 s",
        ]
    )
    assert [r.peer.port for r in parse_served_log(log)] == [5]
    assert parse_served("12:00:00.000 server waiting for a connection") is None


def test_bytes_are_shown_as_a_learner_reads_them():
    assert describe(0x41) == "'A' (0x41)"
    assert [describe(b) for b in (0x00, 0x7F, 0xFF)] == ["0x00", "0x7f", "0xff"]
