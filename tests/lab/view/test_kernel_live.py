"""`socklab run --kernel --view` on real containers, watched in a real browser: the kernel's three views as a
person sees them, the same things tests/unit/view/test_kernel_page.py asserts from made-up logs.

These need issue 20's kernel branch (``--kernel``): until it is merged they skip, saying so
(``needs_kernel``); with it, a run whose log has no kernel events fails.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from socklab.capture.packets import flag_letters
from socklab.events.schema import Event, Kind, parse_log
from support_view import LiveRun, attrs, browser, click, drawn, needs_kernel, text, texts, until

pytestmark = [pytest.mark.lab, needs_kernel]


def watched(args: list[str], log: Any) -> LiveRun:
    return LiveRun([*args, "--kernel"], log)


def kinds(log: Any) -> dict[Kind, list[Event]]:
    found: dict[Kind, list[Event]] = {}
    for event in parse_log(log.read_text()):
        found.setdefault(event.kind, []).append(event)
    assert found.get(Kind.SOCKET), "--kernel wrote no socket event"
    return found


def letters(flags: str | list[str]) -> str:
    return flags if isinstance(flags, str) else flag_letters(flags)


def in_order(labels: list[str], wanted: list[str]) -> bool:
    """Whether ``labels`` holds a label matching each of ``wanted`` (regexes), in that order."""
    position = 0
    for pattern in wanted:
        while position < len(labels) and not re.search(pattern, labels[position]):
            position += 1
        if position == len(labels):
            return False
        position += 1
    return True


def test_the_serial_server_with_nine_clients_shows_its_queue_full_and_the_clients_beyond_it_sending_syn_again(
    lab_images, tmp_path
):
    log = tmp_path / "run.jsonl"
    args = ["run", "--clients", "9", "--delay", "3", "--server-image", lab_images.servers["serial"],
            "--client-image", lab_images.client]  # fmt: skip
    with browser(1400, 1600) as page, watched(args, log) as run:  # the browser first: it may start slowly
        page.get(run.url)

        def shows(what: str, condition: Any) -> None:
            until(page, 180, condition, what, context=run.told)

        queue = "return (q => q && [q.dataset.backlog, q.dataset.queued])(document.querySelector('#sockets .listen'))"
        shows("the listen queue full: backlog + 1", lambda d: (d.execute_script(queue) or [0, 0])[1] == "6")
        assert page.execute_script(queue)[0] == "5" and "FULL" in text(page, "#sockets .listen")
        shows("a client beyond it, its SYN sent again", lambda d: texts(d, "#sockets .synagain.now"))
        waiting = page.execute_script(
            "return [...document.querySelectorAll('#sockets .synagain.now')]"
            ".map(e => e.closest('.sock-host').dataset.host)"
        )
        assert waiting and all(text(page, f'#sockets [data-host="{w}"] .sock .state') == "SYN_SENT" for w in waiting)
        click(page, f'#packets .pick[data-pick="{waiting[0]}"]')
        shows(
            f"{waiting[0]}'s SYN again on its ladder",
            lambda d: any("retransmission" in str(label) for label in attrs(d, "#packets .seg", "data-label")),
        )
        shows("the run's end", lambda d: "finished" in text(d, "#status"))
    events = kinds(log)
    assert any(e.data.get("retransmission") and letters(e.data["flags"]) == "S" for e in events[Kind.PACKET])


def test_one_clients_ladder_shows_the_handshake_a_b_and_both_fins_in_order_and_the_report_has_the_three_views(
    lab_images, tmp_path
):
    log, report = tmp_path / "run.jsonl", tmp_path / "run.html"
    args = ["run", "--clients", "3", "--delay", "2", "--server-image", lab_images.server,
            "--client-image", lab_images.client, "--report", str(report)]  # fmt: skip
    with browser(1400, 1600) as page, watched(args, log) as run:  # the browser first: it may start slowly
        page.get(run.url)
        until(page, 180, lambda d: "finished (exit 0)" in text(d, "#status"), "the run's end", context=run.told)
        click(page, '#packets .pick[data-pick="client-2"]')
        until(page, 10, lambda d: "client-2" in drawn(d, "#packets svg.ladder .end"), "client-2's ladder")
        labels = [str(label) for label in attrs(page, "#packets .seg", "data-label")]
    assert in_order(labels, [r"^SYN$", r"^SYN-ACK$", r"^ACK$", r"^'A'", r"^'B'"]), labels
    after_b = labels[next(n for n, label in enumerate(labels) if label.startswith("'B'")) :]
    assert sum("FIN" in label for label in after_b) == 2, labels  # the server's ('B' + FIN or its own), the client's
    assert run.code == 0, run.told()
    events = kinds(log)
    hosts = {e.host for e in events[Kind.SOCKET]}
    assert {"server", "client-1", "client-2", "client-3"} <= hosts, hosts
    assert {e.host for e in events[Kind.SYSCALL]} == {"server"}
    html = report.read_text()
    for section in ("sockets", "packets", "syscalls"):
        assert f'<section id="{section}">' in html, section


def test_the_fork_servers_lanes_show_accept_blocked_until_the_client_connects_and_a_child_lane_at_the_fork(
    lab_images, tmp_path
):
    """The lesson's C original (c-fork): it waits for a connection in pselect6 (so that SIGTERM can end the wait),
    then accepts at once and forks; the page draws that wait as accept's, until the client came."""
    log = tmp_path / "run.jsonl"
    args = ["run", "--clients", "2", "--delay", "2", "--server-image", lab_images.servers["c-fork"],
            "--client-image", lab_images.client]  # fmt: skip
    with browser(1400, 1600) as page, watched(args, log) as run:  # the browser first: it may start slowly
        page.get(run.url)
        until(page, 180, lambda d: "finished (exit 0)" in text(d, "#status"), "the run's end", context=run.told)
        lanes = page.execute_script(
            """return [...document.querySelectorAll('#calls .lane')].map(l => ({pid: l.dataset.pid,
            parent: l.dataset.parent || null, born: +l.dataset.born,
            calls: [...l.querySelectorAll('.call')]
                .map(c => [c.dataset.call, +c.dataset.start, +(c.dataset.end || 0), c.dataset.for || ""])}))"""
        )
        shown = drawn(page, "#calls")
    events = kinds(log)
    main = lanes[0]
    children = [lane for lane in lanes if lane["parent"] == main["pid"]]
    assert len(children) >= 2, lanes  # one child per client (socklab's readiness check adds one)
    waits = [c for c in main["calls"] if c[3] == "accept" or (c[0].startswith("accept") and c[2] - c[1] > 0.01)]
    forks = [c for c in main["calls"] if re.match(r"(clone|fork|vfork)", c[0])]
    assert waits and forks, main
    assert "waiting for a connection" in shown or all(c[0].startswith("accept") for c in waits)
    # For each client: the server was waiting for a connection before its SYN came, and that wait ended soon
    # after it (the handshake, then the wake-up). Two instruments: the SYN is stamped by the kernel, the calls
    # by strace when it is scheduled, a few milliseconds off on a loaded machine (seen: a wait ending 3.7 ms
    # "before" the SYN that ended it); and a traced process stops at every call, so the wake-up can come
    # a tenth of a second late there (seen: 128 ms) — well before the next client or the delay's end.
    syns = [e.t for e in events[Kind.PACKET] if letters(e.data["flags"]) == "S" and not e.data.get("probe")]
    assert len(syns) >= 2, syns
    slack = 0.01
    for syn in syns:
        assert any(c[1] - slack < syn < c[2] + slack and c[2] < syn + 0.5 for c in waits), (syn, waits)
    # ... and each child's lane begins where a fork returned.
    assert all(any(abs(child["born"] - (f[2] or f[1])) < 0.01 for f in forks) for child in children)
