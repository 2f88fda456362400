"""The recorder: each event is a line in the file the moment it is emitted, listeners hear it, nesting works."""

from __future__ import annotations

import threading

import pytest

from socklab.events import Event, Kind, parse_log
from socklab.events import recorder as events
from socklab.events.recorder import Recorder


def test_each_event_is_in_the_file_as_soon_as_it_is_emitted(tmp_path):
    path = tmp_path / "run.jsonl"
    with Recorder(path, run="r1") as recorder:
        recorder.emit(Kind.RUN_STARTED, command="run", args={}, title="t")
        # Another process following the file sees the line now, not when the recorder closes.
        assert [e.kind for e in parse_log(path.read_text())] == [Kind.RUN_STARTED]
        events.emit(Kind.ACCEPTED, "server", t=12.5, peer="10.0.0.3:4000", version="fork")
        lines = path.read_text().splitlines()
        assert len(lines) == 2
        accepted = Event.from_line(lines[1])
        assert (accepted.kind, accepted.host, accepted.t, accepted.run) == (Kind.ACCEPTED, "server", 12.5, "r1")
        assert accepted.data == {"peer": "10.0.0.3:4000", "version": "fork"}
    assert [e.kind for e in recorder.events] == [Kind.RUN_STARTED, Kind.ACCEPTED]


def test_emit_without_a_recorder_does_nothing():
    assert events.active() is None
    assert events.emit(Kind.VERDICT, ok=True, text="x", details=[]) is None


def test_listeners_hear_every_event_and_a_broken_one_is_dropped_not_fatal():
    heard: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("watcher bug")

    with Recorder(listeners=[heard.append, broken]) as recorder:
        with pytest.warns(RuntimeWarning, match="watcher bug"):
            recorder.emit(Kind.HOST, "server", role="server")
        recorder.emit(Kind.HOST, "client-1", role="client-1")
        assert broken not in recorder.listeners
    assert [e.host for e in heard] == ["server", "client-1"]


def test_the_innermost_recorder_receives_and_the_outer_one_resumes(tmp_path):
    with Recorder(tmp_path / "outer.jsonl") as outer:
        with Recorder(tmp_path / "inner.jsonl") as inner:
            events.emit(Kind.MEASUREMENT, "bench", name="x", value=1, unit="s", labels={})
        events.emit(Kind.MEASUREMENT, "bench", name="y", value=2, unit="s", labels={})
    assert [e.data["name"] for e in inner.events] == ["x"]
    assert [e.data["name"] for e in outer.events] == ["y"]
    assert events.active() is None


def test_lines_from_many_threads_never_interleave(tmp_path):
    path = tmp_path / "run.jsonl"
    with Recorder(path) as recorder:
        threads = [
            threading.Thread(
                target=lambda k=k: [
                    recorder.emit(Kind.ACCEPTED, f"s{k}", peer="p" * 500, version="fork") for _ in range(50)
                ]
            )
            for k in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    parsed = parse_log(path.read_text())  # a torn line would not parse
    assert len(parsed) == 400 and {e.host for e in parsed} == {f"s{k}" for k in range(8)}


def test_labs_after_the_first_get_a_prefix_of_their_own():
    recorder = Recorder()
    assert [recorder.lab_prefix(r) for r in ("a", "b", "a", "c")] == ["", "lab2/", "", "lab3/"]
