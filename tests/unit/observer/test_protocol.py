"""The observer's lines: written and read only as ``MESSAGES`` says, anything else refused with its reason."""

from __future__ import annotations

import math

import pytest

from observer.protocol import MESSAGES, ProtocolError, dump, parse


def test_a_line_reads_back_as_written():
    line = dump("watch", ns="client-3", pid=4242, interval_s=0.1, capture=True, server=False)
    assert parse(line) == (
        "watch",
        {"ns": "client-3", "pid": 4242, "interval_s": 0.1, "capture": True, "server": False},
    )


def test_optional_fields_take_none():
    fields = {"t": 1.5, "pid": 1, "call": "accept4", "args": "3", "result": None, "seconds": None, "done": False}
    assert parse(dump("syscall", **fields, fd=3, socket=None))[1]["result"] is None


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"ns": "x"}, "missing"),
        ({"ns": "x", "pid": 1, "interval_s": 0.1, "capture": True, "server": False, "extra": 1}, "unknown extra"),
        ({"ns": "x", "pid": True, "interval_s": 0.1, "capture": True, "server": False}, "pid True"),
        ({"ns": "x", "pid": 1, "interval_s": math.nan, "capture": True, "server": False}, "finite"),
        ({"ns": 3, "pid": 1, "interval_s": 0.1, "capture": True, "server": False}, "ns 3 must be str"),
    ],
)
def test_a_bad_message_is_refused_naming_what_is_wrong(fields, says):
    with pytest.raises(ProtocolError, match=says):
        dump("watch", **fields)


@pytest.mark.parametrize("line", ["not json", "[1, 2]", '{"ns": "x"}', '{"msg": "nonsense"}'])
def test_lines_that_are_no_message_are_refused(line):
    with pytest.raises(ProtocolError):
        parse(line)


def test_every_message_kind_has_fields():
    assert all(MESSAGES[kind] for kind in MESSAGES)
