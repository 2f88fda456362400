"""Every run as its event log and its report, on real containers: what happened, live, and nothing else."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

from socklab.cli.main import ExitCode, main
from socklab.events import Event, Kind, parse_log
from socklab.events.recorder import Recorder
from socklab.faults.suite import SuiteSettings, run_fault
from socklab.lab.lab import Lab
from support_report import assert_offline, timeline_bars

pytestmark = pytest.mark.lab


def clients_seen(events: list[Event], kind: Kind) -> list[Event]:
    return [e for e in events if e.kind is kind and not e.data.get("probe")]


def test_run_keeps_a_log_of_three_exchanges_and_reports_them(lab_images, tmp_path, capsys):
    log, report = tmp_path / "e.jsonl", tmp_path / "r.html"
    code = main(
        ["run", "--clients", "3", "--delay", "0.5", "--events", str(log), "--report", str(report),
         "--server-image", lab_images.server, "--client-image", lab_images.client]
    )  # fmt: skip
    assert code == ExitCode.OK, capsys.readouterr()
    events = parse_log(log.read_text())
    assert [events[0].kind, events[-1].kind] == [Kind.RUN_STARTED, Kind.RUN_FINISHED]
    for kind in (Kind.ACCEPTED, Kind.SERVED, Kind.ANSWERED, Kind.CONNECTED):
        assert len(clients_seen(events, kind)) == 3, kind
    # The server's accepted and served lines name the peers the clients connected from.
    clients = {e.data["address"] for e in clients_seen(events, Kind.ANSWERED)}
    assert {e.data["peer"] for e in clients_seen(events, Kind.ACCEPTED)} == clients
    assert {e.data["peer"] for e in clients_seen(events, Kind.SERVED)} == clients
    server = [e for e in events if e.kind is Kind.HOST and e.host == "server"]
    assert any(e.data.get("address") for e in server) and any("model" in str(e.data.get("version")) for e in server)
    assert {e.host for e in events if e.kind is Kind.CONTAINER_STOPPED} >= {"client-1", "client-2", "client-3"}
    (verdict,) = [e for e in events if e.kind is Kind.VERDICT]
    assert verdict.data["ok"] and verdict.data["text"].startswith("served concurrently: 3/3")
    html = report.read_text()
    assert_offline(html)
    assert timeline_bars(html) == 3 and verdict.data["text"] in html


def test_the_accepted_line_is_in_the_file_while_the_client_still_waits(lab_images, tmp_path):
    """Live: each accepted event reaches the file before its answer could exist (the server waits 3 s)."""
    delay, log = 3.0, tmp_path / "live.jsonl"
    seen: list[tuple[float, Event, str]] = []  # when the listener heard it, the event, the file at that moment
    heard = threading.Event()

    def listener(event: Event) -> None:
        if event.kind is Kind.ACCEPTED and not event.data.get("probe"):
            seen.append((time.time(), event, log.read_text()))
            heard.set()

    with (
        Recorder(log, listeners=[listener]),
        Lab(server_image=lab_images.server, client_image=lab_images.client, delay=delay) as lab,
    ):
        runs = lab.run_clients(1)
    assert runs[0].ok and heard.is_set()
    (when, accepted, text) = seen[0]
    assert when - accepted.t < delay / 2, "the accepted line was recorded only after the answer"
    assert accepted.to_line() in text.splitlines() and '"kind":"answered"' not in text


@pytest.mark.xdist_group("crowd")  # with the contract's 50-client rows: one crowd at a time
def test_fifty_clients_make_a_report_that_opens_offline(lab_images, tmp_path, capsys):
    report = tmp_path / "r.html"
    main(
        ["run", "--clients", "50", "--delay", "2", "--report", str(report),
         "--server-image", lab_images.server, "--client-image", lab_images.client]
    )  # fmt: skip
    html = report.read_text()
    assert_offline(html)
    # 50 bars when every client was answered; the verdict, whatever it was on this machine, is shown.
    answered = int(re.search(r"<b>(\d+)</b>answered", html)[1])  # type: ignore[index]
    assert answered == 50 and timeline_bars(html) == 50
    assert re.search(r"served concurrently|NOT served concurrently", html)
    print(f"report for 50 clients: {len(html.encode())} bytes")


def test_a_fault_is_in_the_log_and_shaded_in_the_report(lab_images, tmp_path):
    log, report = tmp_path / "f.jsonl", tmp_path / "f.html"
    with Recorder(log) as recorder:
        row = run_fault("pause", server_image=lab_images.servers["fork"], client_image=lab_images.client,
                        settings=SuiteSettings(hold=1.5))  # fmt: skip
    events = recorder.events
    applied = [e for e in events if e.kind is Kind.FAULT_APPLIED]
    undone = [e for e in events if e.kind is Kind.FAULT_UNDONE]
    assert [e.data["name"] for e in applied] == [e.data["name"] for e in undone] == ["pause"]
    assert undone[0].t - applied[0].t >= 1.5 * 0.9 and undone[0].data["report"]["verified"] is True
    assert len(clients_seen(events, Kind.ANSWERED)) == row.answered == row.sent
    # The server's container froze and thawed: the engine's own events say so.
    states = [e.data.get("state") for e in events if e.host == "server" and e.data.get("state")]
    assert states == ["pause", "unpause"]
    from socklab.report.render import write_report

    html = write_report(events, report).read_text()
    assert_offline(html)
    assert 'id="faults"' in html and "docker pause" in html and timeline_bars(html) == row.sent
    assert [json.loads(line)["kind"] for line in log.read_text().splitlines()] == [str(e.kind) for e in events]


@pytest.mark.slow
def test_socklab_faults_writes_its_report(lab_images, tmp_path, capsys):
    """The report says what the suite found (on a loaded machine a pause may cost exchanges: it says so)."""
    report = tmp_path / "faults.html"
    code = main(
        ["faults", "--fault", "pause", "--server-image", lab_images.servers["thread"],
         "--client-image", lab_images.client, "--report", str(report), "--json"]
    )  # fmt: skip
    (row,) = json.loads(capsys.readouterr().out)
    assert code == (ExitCode.OK if row["ok"] else ExitCode.FAILED)
    html = report.read_text()
    assert_offline(html)
    assert f"pause against {lab_images.servers['thread']}: {row['answered']}/{row['sent']} answered" in html
    assert f"{row['lost']} lost" in html and 'id="lost"' in html and "docker pause" in html
    assert timeline_bars(html) >= row["answered"]
