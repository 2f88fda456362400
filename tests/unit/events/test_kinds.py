"""The kinds' description is enforced: a writer that gets an event wrong is stopped with the kind and the field
named, a reader refuses a line without its required fields and keeps what it does not know, the docs agree."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pytest

from socklab import wire
from socklab.capture.packets import flag_letters, flag_names
from socklab.events import Event, InvalidEvent, Kind, MalformedEvent
from socklab.events.docs import with_kinds
from socklab.events.kinds import SPECS, problems
from socklab.events.lines import client_events, server_line
from socklab.events.recorder import Recorder

DOCS = Path(__file__).parents[3] / "docs" / "events.md"


def test_every_kind_has_its_description():
    assert set(SPECS) == set(Kind)
    for kind, spec in SPECS.items():
        assert spec.doc and spec.fields, kind
        assert len({f.name for f in spec.fields}) == len(spec.fields), f"{kind}: a field twice"


def test_docs_events_md_is_made_from_the_description():
    text = DOCS.read_text(encoding="utf-8")
    assert with_kinds(text) == text, (
        "docs/events.md differs from kinds.py: python -m socklab.events.docs docs/events.md"
    )
    for kind in Kind:
        assert f"### `{kind.value}`" in text


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"peer": "10.0.0.3:4000"}, "'version' is missing"),
        ({"peer": 4000, "version": "fork"}, "'peer' must be str"),
        ({"peer": "10.0.0.3:4000", "version": "fork", "probe": "yes"}, "'probe' must be bool"),
        ({"peer": "10.0.0.3:4000", "version": "fork", "pid": 7}, "'pid' is not one of its fields"),
    ],
)
def test_a_wrong_event_is_refused_when_written_naming_its_kind_and_field(tmp_path, data, named):
    path = tmp_path / "run.jsonl"
    with Recorder(path) as recorder, pytest.raises(InvalidEvent, match=rf"'accepted'.*{named}"):
        recorder.emit(Kind.ACCEPTED, "server", **data)
    assert path.read_text() == "", "nothing of a wrong event reaches the file"


def test_a_number_that_json_cannot_carry_is_refused():
    with Recorder() as recorder, pytest.raises(InvalidEvent, match="'value' must be number"):
        recorder.emit(Kind.MEASUREMENT, "bench", name="x", value=math.nan, unit="s", labels={})


def test_record_holds_an_event_made_elsewhere_to_the_same_description():
    with Recorder() as recorder, pytest.raises(InvalidEvent, match="'exit_code' is missing"):
        recorder.record(Event(Kind.RUN_FINISHED, 1.0, "r", data={}))


def test_a_reader_refuses_a_line_without_a_required_field_and_keeps_fields_it_does_not_know():
    line = json.dumps({"t": 1.0, "kind": "served", "run": "r", "host": "server", "data": {"peer": "x:1"}})
    with pytest.raises(MalformedEvent, match="served event: field 'request' is missing"):
        Event.from_line(line)
    newer = {"peer": "10.0.0.3:1", "version": "fork", "written_by_a_newer_socklab": [1, 2]}
    event = Event.from_line(json.dumps({"t": 1.0, "kind": "accepted", "run": "r", "data": newer}))
    assert event.data == newer


def test_the_server_and_client_lines_make_events_the_description_accepts():
    stamp = "2026-01-02T03:04:05.123456789Z "
    served = server_line(stamp + "03:04:05.123 served 10.0.0.3:40001 (c.lab): 'A' (0x41) -> 'B' (0x42) in 5.004 s")
    accepted = server_line(stamp + "03:04:00.119 accepted 10.0.0.3:40001", version="fork")
    assert served is not None and accepted is not None
    assert problems(served.kind, served.data) == [] and problems(accepted.kind, accepted.data) == []
    now = dt.datetime.now(dt.UTC).timestamp()
    for ok in (True, False):
        result = wire.ClientResult(
            host="b5da1c58820f", address="10.0.0.3:40001", server="10.0.0.2:9736", sent=65,
            received=66 if ok else None, connect_seconds=0.01, answer_seconds=5.0 if ok else None,
            connected_at=now, answered_at=now + 5 if ok else None, attempts=1, outcome="ok" if ok else "timeout",
            exit_code=0 if ok else 4, error=None if ok else "timeout",
        )  # fmt: skip
        for event in client_events(result):
            assert problems(event.kind, event.data) == [], event


def test_the_trace_writes_flags_as_tcpdump_letters_and_reads_older_lists():
    assert flag_letters(("SYN", "ACK")) == "SA" and flag_letters(("ACK", "FIN")) == "FA"
    assert flag_names("SA") == ("SYN", "ACK") and flag_names(["SYN", "ACK"]) == ("SYN", "ACK")
    assert SPECS[Kind.PACKET].field("flags").accepts("PA")  # type: ignore[union-attr]
