"""`socklab run --clients 3 --view` on real containers, watched in a real browser while it runs.

The run is its own process (as a teacher starts it); the test reads the URL it prints, watches the page,
and measures how far the page trails the server's own log lines (the engine's stamp on each line).
"""

from __future__ import annotations

import re
import signal
import statistics
import subprocess
import sys
import threading
from typing import Any

import pytest

from socklab.events.schema import Kind, parse_log
from support_view import browser, texts, until

pytestmark = pytest.mark.lab

DELAY = 4.0


def test_a_run_with_view_shows_three_clients_waiting_then_b_and_the_verdict(lab_images, tmp_path, capsys):
    log = tmp_path / "run.jsonl"
    command = [
        sys.executable, "-m", "socklab", "run", "--clients", "3", "--delay", str(DELAY), "--view", "--view-port", "0",
        "--view-linger", "120", "--events", str(log), "--server-image", lab_images.server,
        "--client-image", lab_images.client,
    ]  # fmt: skip
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url: list[str] = []
    said = threading.Event()
    stderr: list[str] = []

    def read_stderr() -> None:
        assert run.stderr is not None
        for line in run.stderr:
            stderr.append(line)
            if not url and (match := re.search(r"view: (http://127\.0\.0\.1:\d+/)", line)):
                url.append(match[1])
                said.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert said.wait(60), "".join(stderr)
        with browser() as page:
            page.get(url[0])

            def told() -> str:
                return "--- the run's stderr ---\n" + "".join(stderr)[-3000:]

            def shows(what: str, condition: Any) -> None:
                until(page, 120, condition, what, context=told)

            shows("3 client hosts", lambda d: len(texts(d, ".host.client")) == 3)
            # While the server waits: each connection shown with its countdown, no answer yet.
            shows(
                "3 waiting connections with their countdown",
                lambda d: len(texts(d, ".conn.waiting")) == 3 and "s left" in " ".join(texts(d, ".conn")),
            )
            assert texts(page, ".host.client.answered") == []
            addresses = texts(page, ".host.client .addr")
            assert all(re.fullmatch(r"\d+\.\d+\.\d+\.\d+", a) for a in addresses), addresses
            shows("3 served connections", lambda d: len(texts(d, ".conn.served")) == 3)
            shows("B on 3 clients", lambda d: texts(d, ".host.client.answered .reply") == ["B", "B", "B"])
            shows("the verdict", lambda d: "served concurrently: 3/3" in " ".join(texts(d, ".verdict")))
            shows("the run's end", lambda d: "finished (exit 0)" in " ".join(texts(d, "#status")))
            shown = {int(n): t for n, t in page.execute_script("return window.socklab.shown").items()}
            (tmp_path / "view.png").write_bytes(page.get_screenshot_as_png())
        assert run.poll() is None, "the view lingers after the run"
    finally:
        run.send_signal(signal.SIGINT)  # Ctrl-C ends the linger
        code = run.wait(60)
    assert code == 0, "".join(stderr)
    events = parse_log(log.read_text())
    server_lines = [
        (n, e) for n, e in enumerate(events, 1) if e.kind in (Kind.ACCEPTED, Kind.SERVED) and not e.data.get("probe")
    ]
    assert len(server_lines) == 6
    lags = [shown[n] - e.t for n, e in server_lines]
    with capsys.disabled():
        print(
            f"\nview latency behind the server's log lines (engine stamp -> page), 3 clients: "
            f"median {statistics.median(lags) * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms"
        )
    assert statistics.median(lags) < 2.0
