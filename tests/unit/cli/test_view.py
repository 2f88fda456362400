"""``socklab view EVENTS.jsonl`` as a user runs it: the URL on stderr, the log served, Ctrl-C ends it (exit 0)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

from socklab.events.schema import Event, Kind
from support_view import sse_events


def test_socklab_view_serves_a_saved_log_until_ctrl_c(tmp_path):
    log = tmp_path / "run.jsonl"
    log.write_text(Event(Kind.VERDICT, 1.0, "r", data={"ok": True, "text": "fine", "details": []}).to_line() + "\n")
    view = subprocess.Popen(
        [sys.executable, "-m", "socklab", "view", str(log), "--port", "0"], stderr=subprocess.PIPE, text=True
    )
    try:
        assert view.stderr is not None
        said = view.stderr.readline()
        url = re.search(r"view: (http://127\.0\.0\.1:\d+/)", said)
        assert url, said
        ((_, event),) = sse_events(url[1] + "events", 1)
        assert event["data"]["text"] == "fine"
    finally:
        view.send_signal(signal.SIGINT)
        code = view.wait(20)
    assert code == 0
