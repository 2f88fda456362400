"""The view's server over HTTP: the page and its assets (all local), the events as SSE with their line
numbers as ids, a reconnect (Last-Event-ID) that resumes after what the browser saw, a taken port."""

from __future__ import annotations

import re
import socket
import urllib.request

import pytest

from socklab.events.schema import Event, Kind
from socklab.view.app import STATIC
from socklab.view.server import ViewError, ViewServer
from support_view import sse_events


def write_log(path, count):
    path.write_text(
        "".join(
            Event(Kind.HOST, float(k), "r", f"client-{k}", {"role": f"client-{k}"}).to_line() + "\n"
            for k in range(1, count + 1)
        )
    )


def test_events_carry_their_line_number_and_a_reconnect_resumes_after_the_last_seen(tmp_path):
    log = tmp_path / "e.jsonl"
    write_log(log, 5)
    with ViewServer(log, port=0) as view:
        whole = sse_events(view.url + "events", 5)
        assert [e["n"] for _, e in whole] == [1, 2, 3, 4, 5]
        assert [e["host"] for _, e in whole] == [f"client-{k}" for k in range(1, 6)]
        assert {message_id for message_id, _ in whole} == {"5"}, "the five lines found together: one message"
        resumed = sse_events(view.url + "events", 2, {"Last-Event-ID": "3"})
        assert [e["n"] for _, e in resumed] == [4, 5]


def test_a_burst_of_lines_goes_as_few_messages_each_id_its_last_line(tmp_path):
    log = tmp_path / "e.jsonl"
    write_log(log, 1200)
    with ViewServer(log, port=0) as view:
        events = sse_events(view.url + "events", 1200)
    assert [e["n"] for _, e in events] == list(range(1, 1201))
    assert sorted({int(message_id) for message_id, _ in events}) == [500, 1000, 1200]


def test_the_page_and_its_assets_come_from_this_server_only(tmp_path):
    write_log(tmp_path / "e.jsonl", 1)
    with ViewServer(tmp_path / "e.jsonl", port=0) as view:
        page = urllib.request.urlopen(view.url, timeout=5).read().decode()
        assets = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert assets and all(a.startswith("/static/") for a in assets)
        for asset in assets:
            assert urllib.request.urlopen(view.url.rstrip("/") + asset, timeout=5).status == 200
    for path in STATIC.iterdir():
        text = path.read_text().replace("http://www.w3.org/2000/svg", "")  # SVG's namespace: a name, not fetched
        assert not re.search(r"https?://", text), f"{path.name} refers to another host"


def test_a_taken_port_is_one_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ViewError, match="--port 0 picks a free port"):
            ViewServer(tmp_path / "e.jsonl", port=taken.getsockname()[1])
