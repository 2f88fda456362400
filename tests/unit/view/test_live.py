"""``--view`` around a recorded command, without Docker: the URL printed before the run, the run's own log
served while it runs (a temporary file when no --events is given), the view gone when the linger ends."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

from socklab.cli.recording import recorded
from socklab.events import recorder
from socklab.events.options import RecordOptions
from socklab.events.schema import Kind
from support_view import sse_events


@dataclass(frozen=True)
class FakeOptions(RecordOptions):
    """A command's options: only what every recorded command has."""


def test_view_serves_the_run_as_it_is_recorded_then_stops_with_the_linger(capsys):
    seen: list[str] = []

    def run(_options: FakeOptions) -> int:
        url = re.search(r"view: (http://127\.0\.0\.1:\d+/)", capsys.readouterr().err)
        assert url, "the URL is printed before the run starts"
        seen.append(url[1])
        recorder.emit(Kind.HOST, "server", role="server", address="10.0.0.2")
        seen.extend(event["kind"] for _, event in sse_events(url[1] + "events", 2))
        return 0

    code = recorded("fake", run)(FakeOptions(view=True, view_port=0, view_linger=0))
    assert code == 0
    url, *kinds = seen
    assert kinds == ["run.started", "host"]
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)  # --view-linger 0: stopped with the run


def test_without_view_nothing_is_served(capsys):
    assert recorded("fake", lambda _options: 0)(FakeOptions()) == 0
    assert "view:" not in capsys.readouterr().err


def test_a_bad_view_port_is_a_usage_error():
    with pytest.raises(ValueError, match="--view-port"):
        FakeOptions(view=True, view_port=70000)
