"""The containers' own lines as events: the server's accepted/served lines, the client's result record."""

from __future__ import annotations

import datetime as dt

from socklab import wire
from socklab.events import Kind
from socklab.events.lines import client_events, engine_stamp, server_line, server_version

STAMP = "2026-12-02T12:00:05.123456789Z "
AT = dt.datetime(2026, 12, 2, 12, 0, 5, 123456, tzinfo=dt.UTC).timestamp()


def test_the_engine_stamp_places_the_line_in_time():
    assert engine_stamp(STAMP + "hello") == (AT, "hello")
    assert engine_stamp("hello") == (None, "hello")


def test_an_accepted_line_names_the_peer():
    event = server_line(STAMP + "12:00:05.120 accepted 172.18.0.3:40122", version="fork")
    assert event is not None
    assert (event.kind, event.t, event.data) == (Kind.ACCEPTED, AT, {"peer": "172.18.0.3:40122", "version": "fork"})


def test_a_served_line_gives_the_answer_and_when_the_request_began():
    line = STAMP + "12:00:05.120 served 172.18.0.3:40122 (c1.lab): 'A' (0x41) -> 'B' (0x42) in 5.001 s"
    event = server_line(line)
    assert event is not None and event.kind is Kind.SERVED and event.t == AT
    assert event.data["peer"] == "172.18.0.3:40122" and (event.data["request"], event.data["reply"]) == (0x41, 0x42)
    assert abs(event.data["accepted_at"] - (AT - 5.001)) < 1e-6


def test_other_lines_are_no_events():
    assert server_line(STAMP + "server waiting for a connection") is None
    assert server_version(STAMP + "12:00:00.000 socklab server 0.1.0 listening on 0.0.0.0:9736 (tcp, model fork)") == (
        "0.1.0 (tcp, model fork)"
    )


def _result(**changes: object) -> wire.ClientResult:
    base = dict(
        host="c1", address="172.18.0.3:40122", server="172.18.0.2:9736", sent=0x41, received=0x42,
        connect_seconds=0.01, answer_seconds=5.0, connected_at=100.0, answered_at=105.0, attempts=1,
        outcome="ok", exit_code=0,
    )  # fmt: skip
    return wire.ClientResult(**(base | changes))  # type: ignore[arg-type]


def test_an_answered_exchange_is_connected_then_answered():
    connected, answered = client_events(_result())
    assert (connected.kind, connected.t) == (Kind.CONNECTED, 100.0)
    assert (answered.kind, answered.t, answered.data["reply"], answered.data["ok"]) == (
        Kind.ANSWERED,
        105.0,
        0x42,
        True,
    )


def test_a_wrong_answer_is_answered_but_not_ok_and_no_connection_is_a_failure():
    assert client_events(_result(received=0x43))[-1].data["ok"] is False
    failed = client_events(
        _result(received=None, connected_at=None, answered_at=None, answer_seconds=None, outcome="no-connection",
                error="connection refused", exit_code=3)
    )  # fmt: skip
    assert [e.kind for e in failed] == [Kind.FAILED] and failed[0].data["error"] == "connection refused"
