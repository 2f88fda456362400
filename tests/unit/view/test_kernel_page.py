"""The kernel's three views on the live page, in a real browser, from logs written as ``--kernel`` writes them
(``support_kernel.Story``: the lesson worked out the way Linux does it), and what a person tripped on before.

Each test writes the log while the page is open, part by part, and waits on the page for what a person would
see at that moment: the listen queue full, a client's SYN sent again, a ladder, a lane that appears.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from typing import Any

import pytest

from socklab.events.recorder import Recorder
from socklab.events.schema import Kind
from socklab.view.server import ViewServer
from support_kernel import Story, client_ip
from support_view import attrs, browser, click, drawn, text, texts, until

HANDSHAKE_TO_FINS = ["SYN", "SYN-ACK", "ACK", "'A'", "ACK", "'B'", "ACK", "FIN-ACK", "ACK", "FIN-ACK", "ACK"]


@pytest.fixture
def page() -> Any:
    with browser(1400, 1600) as driver:
        yield driver


@pytest.fixture
def recorder(tmp_path: Any) -> Any:
    with Recorder(tmp_path / "run.jsonl", run="kernelview01") as written:
        yield written


def shows(page: Any, what: str, condition: Any, seconds: float = 10) -> None:
    until(page, seconds, condition, what)


def listen_queue(page: Any) -> dict[str, Any]:
    script = """const q = document.querySelector('#sockets .listen');
        return q && {backlog: q.dataset.backlog, queued: q.dataset.queued, full: q.classList.contains('full'),
                     slots: q.querySelectorAll('.slot').length, taken: q.querySelectorAll('.slot.taken').length,
                     says: q.innerText}"""
    return page.execute_script(script) or {}


def client_state(page: Any, k: int) -> str:
    return text(page, f'#sockets .sock-host.client[data-host="client-{k}"] .sock .state')


def ladder(page: Any) -> list[str]:
    return [str(label) for label in attrs(page, "#packets .seg", "data-label")]


def test_the_serial_servers_queue_fills_to_backlog_plus_one_and_the_clients_beyond_it_send_their_syn_again(
    page, recorder
):
    story = Story(model="serial", clients=9, delay=2.0)
    with ViewServer(recorder.path, port=0) as view:
        page.get(view.url)
        story.write(recorder, until=2.0)  # 9 SYNs at 0.5 s; the first retransmissions at 1.5 s
        shows(page, "the listen queue full", lambda d: listen_queue(d).get("full"))
        queue = listen_queue(page)
        assert (queue["backlog"], queue["queued"], queue["slots"], queue["taken"]) == ("5", "6", 6, 6)
        assert "6 of 6" in queue["says"] and "FULL" in queue["says"]
        # client-1 is being served, 2..7 wait in the queue, 8 and 9 never got in: their SYN went again.
        shows(page, "client-9 waiting in SYN_SENT", lambda d: client_state(d, 9) == "SYN_SENT")
        assert [client_state(page, k) for k in range(1, 10)] == ["ESTABLISHED"] * 7 + ["SYN_SENT"] * 2
        beyond = texts(page, "#sockets .synagain")
        assert len(beyond) == 2 and all("SYN sent again ×1" in t for t in beyond), beyond
        served = texts(page, '#sockets .sock-host.server tr.sock[data-state="ESTABLISHED"] .who')
        assert served == [f"client-{k}" for k in range(1, 8)]

        story.write(recorder, after=2.0)  # the rest: one client every 2 s, 8 and 9 last
        shows(page, "the queue empty again", lambda d: listen_queue(d).get("queued") == "0", 15)
        shows(page, "B on all nine", lambda d: texts(d, ".host.client.answered .reply") == ["B"] * 9)
        assert "its SYN was sent again ×3" in text(page, '#sockets [data-host="client-9"]')


def test_one_clients_ladder_shows_the_handshake_a_b_and_both_fins_in_order_and_a_click_picks_another(page, recorder):
    story = Story(model="fork", clients=3, delay=0.5, spacing=0.3, names=True)  # flags as ["SYN", "ACK"]
    story.renumber("server", 4_286_201_015)  # and the two ends number the server's side differently
    story.write(recorder)
    with ViewServer(recorder.path, port=0) as view:
        page.get(view.url)
        shows(page, "client-1's ladder", lambda d: ladder(d) == HANDSHAKE_TO_FINS)
        assert attrs(page, "#packets .seg", "data-flags")[:3] == ["S", "SA", "A"]  # each capture once, as letters
        assert drawn(page, "#packets svg.ladder .end") == "client-1 server"
        click(page, '#packets .pick[data-pick="client-3"]')
        shows(page, "client-3's ladder", lambda d: client_ip(3) in drawn(d, "#packets svg.ladder .addr"))
        assert ladder(page) == HANDSHAKE_TO_FINS
        # Its 'A' goes from the client to the server; 'B' comes back.
        arrows = page.execute_script(
            "return [...document.querySelectorAll('#packets .seg .arrow')].map(a => "
            "[a.parentNode.dataset.label, +a.getAttribute('x1') < +a.getAttribute('x2')])"
        )
        assert ["'A'", True] in arrows and ["'B'", False] in arrows
        click(page, '.host.client[data-pick="client-2"]')  # its box in the lab
        shows(page, "client-2's ladder", lambda d: client_ip(2) in drawn(d, "#packets svg.ladder .addr"))


def test_a_dropped_syn_is_drawn_again_in_red_on_its_clients_ladder(page, recorder):
    story = Story(model="serial", clients=9, delay=1.0)
    story.write(recorder)
    again = len(story.conns[9].syns) - 1
    assert again >= 2, "the story drops client-9's SYN at least twice"
    with ViewServer(recorder.path, port=0) as view:
        page.get(view.url)
        shows(page, "the packets panel", lambda d: ladder(d))
        click(page, '#packets .pick[data-pick="client-9"]')
        shows(page, "client-9's ladder", lambda d: client_ip(9) in drawn(d, "#packets svg.ladder .addr"))
        labels = ladder(page)
        assert labels == ["SYN"] + ["SYN (retransmission)"] * again + HANDSHAKE_TO_FINS[1:]
        assert len(attrs(page, "#packets .seg.again", "data-label")) == again
        assert "s pass" in drawn(page, "#packets .pause")  # the retransmission timeouts, as rows of their own


def lanes(page: Any) -> list[dict[str, Any]]:
    script = """return [...document.querySelectorAll('#calls .lane')].map(l => ({pid: l.dataset.pid,
        parent: l.dataset.parent || null, born: l.dataset.born, attached: l.dataset.attached || null,
        calls: [...l.querySelectorAll('.call')].map(c => [c.dataset.call, c.dataset.start, c.dataset.end || null])}))"""
    return list(page.execute_script(script))


def test_the_fork_servers_lanes_show_accept_blocked_until_the_client_connects_and_a_child_lane_at_the_fork(
    page, recorder
):
    story = Story(model="fork", clients=2, delay=1.0, spacing=1.0)
    first = story.conns[1]
    with ViewServer(recorder.path, port=0) as view:
        page.get(view.url)
        story.write(recorder, until=0.3)  # socket, bind, listen; accept4 made, not returned
        shows(page, "the server's lane", lambda d: len(lanes(d)) == 1 and len(lanes(d)[0]["calls"]) == 4)
        (main,) = lanes(page)
        assert [c[0] for c in main["calls"]] == ["socket", "bind", "listen", "accept4"]
        assert main["attached"] == "start" and main["calls"][3][2] is None
        assert "accept4 still blocked" in drawn(page, "#calls .call.open")  # it grows with the clock

        story.write(recorder, after=0.3, until=0.6)  # client-1 connects at 0.5 s: accept returns, fork
        shows(page, "a child lane", lambda d: len(lanes(d)) == 2)
        main, child = lanes(page)
        accept = next(c for c in main["calls"] if c[0] == "accept4")
        # accept blocked from the moment it was called until the client's handshake completed.
        assert float(accept[1]) < story.listening + 0.01
        assert abs(float(accept[2]) - first.established) < 0.001, (accept, first.established)
        clone = next(c for c in main["calls"] if c[0] == "clone")
        assert float(clone[1]) >= float(accept[2])
        assert child["parent"] == main["pid"] and float(child["born"]) >= float(clone[1])
        assert "forked by" in drawn(page, f'#calls .lane[data-pid="{child["pid"]}"] .pid')

        story.write(recorder, after=0.6)
        shows(page, "the second child", lambda d: len(lanes(d)) == 3)
        child = lanes(page)[1]
        assert [c[0] for c in child["calls"]] == ["close", "read", "clock_nanosleep", "write", "close"]
        sleep = child["calls"][2]
        assert float(sleep[2]) - float(sleep[1]) == pytest.approx(1.0, abs=0.01)
        assert "still blocked" in drawn(page, "#calls .lane .call.open")  # the last accept4 never returned


def test_a_tracer_that_attached_late_says_where_the_lane_starts(page, recorder):
    Story(model="fork", clients=1, delay=0.2, attached_late=True).write(recorder)
    with ViewServer(recorder.path, port=0) as view:
        page.get(view.url)
        shows(page, "the lanes", lambda d: len(lanes(d)) == 2)
        main = lanes(page)[0]
        assert main["attached"] == "late" and "socket" not in [c[0] for c in main["calls"]]
        assert "traced from here" in drawn(page, "#calls .lane.late")


def test_what_just_happened_is_in_the_order_it_happened_though_the_clients_results_come_late(page, recorder):
    """A client's connected and answered are read when it exits, after the server's lines of later moments."""
    story = Story(model="fork", clients=3, delay=0.5, spacing=0.2)
    story.write(recorder)
    arrived = [e.kind for e in recorder.events]
    assert arrived.index(Kind.CONNECTED) > arrived.index(Kind.SERVED), "the story tells it as the Lab does"
    with ViewServer(recorder.path, port=0) as view:
        page.get(view.url)
        shows(page, "the whole log", lambda d: text(d, "#count") == str(len(recorder.events)))
        shown = texts(page, "#log li")
        stamps = [line.split()[0] for line in shown]
        assert stamps == sorted(stamps, reverse=True), "newest first, by the time it happened"
        at = {line.split(maxsplit=1)[1]: n for n, line in enumerate(shown)}
        connected = next(n for line, n in at.items() if line.startswith("client-2 connected"))
        accepted = next(n for line, n in at.items() if line.startswith(f"server accepted {client_ip(2)}"))
        got = next(n for line, n in at.items() if line.startswith("client-2 got 'B'"))
        assert got < accepted < connected  # newest first: B, then the accept, then the connect before it


def test_a_finished_run_says_it_is_over_and_the_view_stopping_is_no_problem(page, recorder):
    Story(model="fork", clients=2, delay=0.2).write(recorder)
    view = ViewServer(recorder.path, port=0).start()
    try:
        page.get(view.url)
        shows(page, "the end of the run", lambda d: "finished (exit 0)" in text(d, "#status"))
        assert "the run is over" in text(page, "footer")
    finally:
        view.stop()  # --view-linger ran out, or Ctrl-C
    shows(page, "that the view stopped", lambda d: "the view has stopped" in text(d, "footer"))
    assert "reconnecting" not in text(page, "footer") and "finished (exit 0)" in text(page, "#status")


def test_fifty_clients_with_the_kernels_streams_keep_up(page, recorder, capsys):
    """50 clients at once, every kernel stream on (about 2,000 events, 500 of them in the first 30 ms):
    each accepted connection is drawn before its answer is due, and the lab's lines trail the log little."""
    story = Story(model="fork", clients=50, delay=3.0, start=time.time() + 4.0)
    with ViewServer(recorder.path, port=0) as view:
        page.get(view.url)
        shows(page, "the live stream", lambda d: text(d, "#connection") == "live")
        player = threading.Thread(target=story.play, args=(recorder,), daemon=True)
        player.start()
        shows(page, "B on fifty", lambda d: texts(d, ".host.client.answered .reply") == ["B"] * 50, 60)
        player.join(30)
        shows(page, "every event", lambda d: text(d, "#count") == str(len(recorder.events)), 20)
        shown = {int(n): t for n, t in page.execute_script("return window.socklab.shown").items()}
        received = {int(n): t for n, t in page.execute_script("return window.socklab.received").items()}
        sockets = text(page, "#sockets")
        costs = page.execute_script("return window.socklab.costs")
    lines = [(n, e) for n, e in enumerate(recorder.events, 1) if e.kind in (Kind.ACCEPTED, Kind.SERVED)]
    kernel = [(n, e) for n, e in enumerate(recorder.events, 1) if e.kind in (Kind.SOCKET, Kind.PACKET, Kind.SYSCALL)]
    lags = [shown[n] - e.t for n, e in lines]
    arrived = [received[n] - e.t for n, e in lines]
    seconds = max(e.t for _, e in kernel) - min(e.t for _, e in kernel)
    with capsys.disabled():
        print(
            f"\nview latency, 50 clients with {len(kernel)} kernel events in {seconds:.1f} s: accepted+served shown "
            f"median {statistics.median(lags) * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms; their message arrived "
            f"median {statistics.median(arrived) * 1000:.0f} ms; drawing took (ms) {costs}"
        )
    late = [e.data["peer"] for n, e in lines if e.kind is Kind.ACCEPTED and shown[n] - e.t >= story.delay]
    assert late == [], "connections drawn only after their wait was over"
    assert statistics.median(lags) < 0.5
    assert re.search(r"and \d+ earlier connections", sockets), "the server's 50 connections are capped"


def test_a_server_that_waits_in_pselect6_and_then_accepts_shows_that_wait_as_the_wait_for_a_connection(page, recorder):
    """socklab's servers (the C original too) wait in pselect6 or epoll_wait, then accept at once."""
    story = Story(model="fork", clients=2, delay=0.5, spacing=1.0, select=True)
    story.write(recorder)
    with ViewServer(recorder.path, port=0) as view:
        page.get(view.url)
        shows(page, "the lanes", lambda d: len(lanes(d)) == 3)
        main = lanes(page)[0]
        waits = attrs(page, '#calls .lane .call[data-for="accept"]', "data-end")
        assert len(waits) == 2, main
        assert [
            abs(float(end) - c.established) < 0.001 for end, c in zip(waits, story.conns.values(), strict=True)
        ] == [True, True]
        assert "pselect6: waiting for a connection" in drawn(page, "#calls .lane")
