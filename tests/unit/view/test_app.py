"""The view's server over HTTP: the page and its assets (all local), the events as SSE with their line
numbers as ids, a reconnect (Last-Event-ID) that resumes after what the browser saw, a taken port."""

from __future__ import annotations

import json
import re
import socket
import urllib.request

import pytest

from socklab.events.schema import Event, Kind
from socklab.view.app import STATIC
from socklab.view.server import ViewError, ViewServer
from support_view import sse_messages as first_messages


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
        whole = first_messages(view.url + "events", 5)
        assert [m["id"] for m in whole] == ["1", "2", "3", "4", "5"]
        assert [json.loads(m["data"])["host"] for m in whole] == [f"client-{k}" for k in range(1, 6)]
        resumed = first_messages(view.url + "events", 2, {"Last-Event-ID": "3"})
        assert [m["id"] for m in resumed] == ["4", "5"]


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
