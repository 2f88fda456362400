"""The live view in a real browser (headless chromium): what a person in front of the page sees.

Each test writes its event log while the page is open, line by line, and waits on the page
(WebDriverWait), never on a clock: a lab's story told the way the recorder tells it.
"""

from __future__ import annotations

import re
import statistics
import time
from typing import Any

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from socklab.events.schema import Kind
from socklab.view.server import ViewServer
from support_view import LiveLog, Script, browser, client_ip, text, texts

DELAY = 1.5


@pytest.fixture
def page() -> Any:
    with browser() as driver:
        yield driver


@pytest.fixture
def log(tmp_path: Any) -> Any:
    written = LiveLog(tmp_path / "run.jsonl")
    yield written
    written.close()


def classes(page: Any, selector: str) -> str:
    return str(page.execute_script("return document.querySelector(arguments[0]).className", selector))


def clients(page: Any) -> list[str]:
    return texts(page, ".host.client")


def replies(page: Any) -> list[str]:
    return texts(page, ".host.client.answered .reply")


def banner(page: Any) -> str:
    """The fault banner's text, "" while it is not shown."""
    return text(page, "#faults")


def seconds_left(page: Any) -> list[float]:
    return [float(m[1]) for t in texts(page, ".conn.waiting .what") if (m := re.search(r"([\d.]+) s left", t))]


def test_three_clients_wait_then_each_gets_b_and_a_fault_banner_lasts_as_long_as_the_fault(page, log):
    with ViewServer(log.path, port=0) as view:
        page.get(view.url)
        wait = WebDriverWait(page, 10, poll_frequency=0.05)
        log.lab_starts(3, delay=DELAY)
        wait.until(lambda d: len(clients(d)) == 3)
        assert texts(page, ".host.client .addr") == [client_ip(k) for k in (1, 2, 3)]
        assert "waits 1.5 s" in text(page, ".host.server")
        assert replies(page) == []

        script = Script(log, clients=3, delay=DELAY)
        script.start()
        script.go.set()
        wait.until(lambda d: len(seconds_left(d)) == 3)  # three connections, each with its wait running
        first = max(seconds_left(page))
        wait.until(lambda d: (left := seconds_left(d)) and max(left) < first)  # the countdown moves
        assert replies(page) == [], "no answer before the server's wait is over"
        WebDriverWait(page, DELAY + 10, poll_frequency=0.05).until(lambda d: replies(d) == ["B", "B", "B"])
        assert time.time() - min(script.accepted.values()) >= DELAY
        served = texts(page, ".conn.served")
        assert len(served) == 3 and all("client-" in row and "B" in row for row in served)

        assert banner(page) == ""
        now = time.time()
        log.emit(
            Kind.FAULT_APPLIED, "fault", t=now, name="loss", target="socklab-viewtest-server",
            spec={"percent": 30, "mechanism": "netem"}, until=now + 30,
        )  # fmt: skip
        wait.until(lambda d: "FAULT" in banner(d))
        assert "loss" in banner(page) and "on server" in banner(page) and "s left" in banner(page)
        assert "faulted" in classes(page, ".host.server")
        log.emit(Kind.FAULT_UNDONE, "fault", name="loss", target="socklab-viewtest-server", report={})
        wait.until(lambda d: banner(d) == "")
        assert "faulted" not in classes(page, ".host.server")

        log.verdict(True, "served concurrently: 3/3 answered within one delay")
        wait.until(lambda d: "served concurrently" in text(d, "#verdicts"))
        assert "finished" in text(page, "#status")


def test_a_finished_log_replays_whole(page, log):
    log.lab_starts(3, delay=0.2)
    accepted = {k: log.accept(k) for k in (1, 2, 3)}
    for k in (1, 2, 3):
        log.serve(k, accepted[k])
        log.answer(k)
    log.emit(Kind.FAULT_APPLIED, "fault", name="pause", target="x-server", spec={}, until=None)
    log.emit(Kind.FAULT_UNDONE, "fault", name="pause", target="x-server", report={})
    log.verdict(False, "served one at a time")
    log.close()
    with ViewServer(log.path, port=0) as view:
        page.get(view.url)
        wait = WebDriverWait(page, 10, poll_frequency=0.05)
        wait.until(lambda d: text(d, "#count") == str(log.lines))
        assert replies(page) == ["B", "B", "B"]
        assert banner(page) == ""
        assert "served one at a time" in text(page, ".verdict.bad")


def test_a_browser_that_lost_the_server_gets_what_it_missed_once(page, log, tmp_path):
    log.lab_starts(2, delay=DELAY)
    view = ViewServer(log.path, port=0).start()
    port = view.port
    try:
        page.get(view.url)
        wait = WebDriverWait(page, 15, poll_frequency=0.05)
        wait.until(lambda d: len(clients(d)) == 2)
    finally:
        view.stop()
    wait.until(lambda d: "reconnecting" in text(d, "#connection"))
    log.lab_starts(2, delay=DELAY, prefix="lab2/")  # written while no server is up
    log.verdict(True, "both labs served")
    with ViewServer(log.path, port=port):
        wait.until(lambda d: text(d, "#count") == str(log.lines))
        assert len(clients(page)) == 4 and len(texts(page, ".lab")) == 2
        assert len(texts(page, "#log li")) == log.lines, "each event shown once"
        page.refresh()  # a new page: the whole log from line 1
        wait.until(lambda d: text(d, "#count") == str(log.lines))
        assert len(clients(page)) == 4 and "both labs served" in text(page, "#verdicts")


def test_fifty_clients_keep_up_each_wait_is_on_the_page_while_it_runs(page, log, capsys):
    """Keeping up: every one of 50 accepted connections is drawn before its answer is due (its countdown is
    seen running), and the answers follow. The lags are printed: they measure this machine's load too."""
    delay = 3.0
    with ViewServer(log.path, port=0) as view:
        page.get(view.url)
        wait = WebDriverWait(page, 20, poll_frequency=0.05)
        wait.until(lambda d: text(d, "#connection") == "live")
        log.lab_starts(50, delay=delay)
        wait.until(lambda d: len(clients(d)) == 50)
        script = Script(log, clients=50, delay=delay)
        script.start()
        script.go.set()
        WebDriverWait(page, delay + 20, poll_frequency=0.25).until(lambda d: replies(d) == ["B"] * 50)
        wait.until(lambda d: text(d, "#count") == str(log.lines))
        shown = {int(n): t for n, t in page.execute_script("return window.socklab.shown").items()}
        received = {int(n): t for n, t in page.execute_script("return window.socklab.received").items()}
    server_lines = [(n, e) for n, e in enumerate(log.recorder.events, 1) if e.kind in (Kind.ACCEPTED, Kind.SERVED)]
    assert len(server_lines) == 100
    lags = [shown[n] - e.t for n, e in server_lines]
    arrived = [received[n] - e.t for n, e in server_lines]
    with capsys.disabled():
        print(
            f"\nview latency, 50 clients, accepted+served: shown median {statistics.median(lags) * 1000:.0f} ms, "
            f"max {max(lags) * 1000:.0f} ms; message arrived median {statistics.median(arrived) * 1000:.0f} ms"
        )
    late = [e.data["peer"] for n, e in server_lines if e.kind is Kind.ACCEPTED and shown[n] - e.t >= delay]
    assert late == [], "connections drawn only after their wait was over"


def test_the_demos_clients_get_their_connections_from_the_servers_reverse_lookup(page, log):
    """Compose's demo records no client address: the served line's peer name links each client to its row."""
    log.emit(Kind.RUN_STARTED, command="demo", args={}, title="socklab demo")
    log.emit(Kind.HOST, "server-1", role="server-1", version="0.1.0 (tcp, model fork, backlog 5, delay 0.2 s)")
    for k in (1, 2):
        log.emit(Kind.CONTAINER_STARTED, f"client-{k}", role=f"client-{k}", image="socklab/client")
    for k in (1, 2):
        t = time.time()
        log.emit(Kind.ACCEPTED, "server-1", t=t, peer=f"{client_ip(k)}:{40000 + k}", version="")
        log.emit(
            Kind.SERVED, "server-1", peer=f"{client_ip(k)}:{40000 + k}", request=65, reply=66, seconds=0.2,
            version="", name=f"demo-client-{k}.demo_lab", accepted_at=t,
        )  # fmt: skip
    with ViewServer(log.path, port=0) as view:
        page.get(view.url)
        WebDriverWait(page, 10, poll_frequency=0.05).until(lambda d: len(texts(d, ".conn.served")) == 2)
        assert texts(page, ".host.client .addr") == [client_ip(1), client_ip(2)]
        assert [row.split()[0] for row in texts(page, ".conn.served")] == ["client-1", "client-2"]


def test_a_scenarios_steps_and_probes_appear_as_they_fire(page, log):
    log.lab_starts(2, delay=DELAY)
    with ViewServer(log.path, port=0) as view:
        page.get(view.url)
        wait = WebDriverWait(page, 10, poll_frequency=0.05)
        wait.until(lambda d: text(d, "#count") == str(log.lines))
        assert texts(page, "#steps li") == []  # not a scenario (yet): the page is as it was
        log.emit(Kind.STEP, "scenario", name="cut fault", action="fault partition on server for 2s",
                 label="partition on server", planned=3.0, fired=3.004, late=False, targets=["server"])  # fmt: skip
        wait.until(lambda d: len(texts(d, "#steps li")) == 1)
        assert texts(page, "#steps li") == ["STEP 3.0 s: partition on server (fired at 3.004 s)"]
        log.emit(Kind.STEP, "scenario", name="m3 swap", action="swap to x:2", label="swap", planned=9.0, fired=9.4,
                 late=True, targets=[])  # fmt: skip
        log.emit(Kind.PROBE, "scenario", phase="after", probe="lost", value=2, tolerance="at-most 0", ok=False,
                 detail="2 of 36")  # fmt: skip
        wait.until(lambda d: len(texts(d, "#steps li")) == 3)
        steps = texts(page, "#steps li")
        assert steps[1] == "STEP 9.0 s: swap (fired at 9.400 s, LATE)"
        assert steps[2] == "PROBE after: lost = 2 (at-most 0): FAILED"
        assert page.execute_script("return document.querySelectorAll('#steps li.fault').length") == 2
