"""The report from a synthetic event log: what a reader needs is there, and nothing reaches the network."""

from __future__ import annotations

import pytest

from socklab.cli.main import ExitCode, main
from socklab.events import Event, Kind
from socklab.events.recorder import Recorder
from socklab.report.model import read_run
from socklab.report.render import render, write_report
from support_report import assert_offline, parse, timeline_bars

T0 = 1_800_000_000.0


def synthetic_log(clients: int = 3, *, fault: bool = False, packets: bool = False, bench: bool = False) -> list[Event]:
    recorder = Recorder(run="synthetic")
    emit = recorder.emit
    emit(Kind.RUN_STARTED, t=T0, command="run", args={"clients": clients, "delay": 1.0}, title="socklab run")
    emit(Kind.HOST, "server", t=T0 + 1, role="server", address="10.0.0.2", image="socklab/server:fork", delay=1.0)
    emit(Kind.ACCEPTED, "server", t=T0 + 1.0, peer="10.0.0.1:5000", version="fork", probe=True)
    for k in range(1, clients + 1):
        host, address, start = f"client-{k}", f"10.0.0.{k + 2}:4{k:04d}", T0 + 2 + k * 0.01
        emit(Kind.HOST, host, t=start, role=host, address=address, image="socklab/client:latest")
        emit(Kind.CONNECTED, host, t=start, peer="10.0.0.2:9736", address=address)
        emit(Kind.ACCEPTED, "server", t=start + 0.001, peer=address, version="fork")
        lost = fault and k == clients
        if lost:
            emit(Kind.FAILED, host, t=start + 1.5, error="timeout: no answer", seconds=1.5, address=address)
        else:
            emit(Kind.SERVED, "server", t=start + 1.0, peer=address, request=65, reply=66, seconds=1.0, version="fork")
            emit(Kind.ANSWERED, host, t=start + 1.001, reply=66, seconds=1.0, ok=True, address=address)
    if fault:
        emit(
            Kind.FAULT_APPLIED,
            "fault",
            t=T0 + 2.5,
            name="partition",
            target="server",
            spec={"mechanism": "iptables"},
            until=T0 + 4,
        )
        emit(
            Kind.FAULT_UNDONE,
            "fault",
            t=T0 + 4,
            name="partition",
            target="server",
            report={"verified": True, "undone_because": "its time ran out"},
        )
        labels = {
            "fault": "partition",
            "server": "fork",
            "sent": clients,
            "answered": clients - 1,
            "lost": 1,
            "ok": False,
        }
        emit(Kind.MEASUREMENT, "fault", t=T0 + 5, name="faults.lost", value=1, unit="exchanges", labels=labels)
    if packets:
        c, s = "10.0.0.3:40001", "10.0.0.2:9736"
        segments = [(c, s, ["SYN"], []), (s, c, ["SYN", "ACK"], []), (c, s, ["ACK", "PSH"], [65])]
        segments.append((s, c, ["ACK", "PSH", "FIN"], [66]))
        ends = {
            "client": {"name": "client", "address": "10.0.0.3"},
            "server": {"name": "server", "address": "10.0.0.2"},
        }
        for n, (src, dst, flags, payload) in enumerate(segments):
            emit(Kind.PACKET, "trace", t=T0 + 2 + n * 0.3, src=src, dst=dst, flags=flags, seq=n, ack=n,
                 length=len(payload), payload=payload, label=f"segment {n}", time=n * 0.3, **ends)  # fmt: skip
    if bench:
        for version, rate in (("fork", 900.0), ("epoll", 9000.0)):
            emit(
                Kind.MEASUREMENT,
                "bench",
                t=T0 + 6,
                name="bench.rates",
                value=rate,
                unit="conn/s",
                labels={"version": version, "per_second": rate},
            )
    emit(
        Kind.VERDICT,
        t=T0 + 7,
        ok=not fault,
        text="served concurrently: 3/3 answered",
        details=[],
        server="socklab/server:fork",
    )
    emit(Kind.RUN_FINISHED, t=T0 + 8, exit_code=0 if not fault else 1)
    return recorder.events


def test_a_run_of_three_shows_its_verdict_three_bars_and_three_exchanges():
    html = render(read_run(synthetic_log(3)))
    assert_offline(html)
    assert "served concurrently: 3/3 answered" in html
    assert timeline_bars(html) == 3
    view = read_run(synthetic_log(3))
    assert (view.labs[0].accepted, view.labs[0].served, view.labs[0].answered) == (3, 3, 3)  # the probe is not a client
    assert all(e.accepted is not None and e.served is not None for e in view.exchanges)


def test_every_section_has_an_id_the_contents_link_to():
    html = render(read_run(synthetic_log(3, fault=True, packets=True, bench=True)))
    page = parse(html)
    links = [v[1:] for tag, name, v in page.attrs if tag == "a" and name == "href"]
    for section in ("summary", "hosts", "timeline", "exchanges", "faults", "packets", "bench", "events"):
        assert section in page.ids() and section in links, section
    assert "@media print" in html


def test_a_fault_is_shaded_and_its_loss_is_counted():
    view = read_run(synthetic_log(3, fault=True))
    (fault,) = view.faults
    assert (fault.name, fault.seconds, fault.failed_during) == ("partition", 4.0 - 2.5, 1)
    assert view.lost[0]["lost"] == 1
    html = render(view)
    assert_offline(html)
    assert "NOT OK" in html and "its time ran out" in html and "1 of " in html


def test_the_trace_has_its_diagram_and_its_packets():
    html = render(read_run(synthetic_log(1, packets=True)))
    assert_offline(html)
    trace = html[html.index('id="packets"') :]
    assert trace.count("<svg") >= 1 and "SYN-ACK" in trace  # the diagram labels the segments itself
    assert all(f"segment {n}" in trace for n in range(4))


def test_the_bench_has_a_table_and_a_plot():
    html = render(read_run(synthetic_log(1, bench=True)))
    bench = html[html.index('id="bench"') :]
    assert "bench.rates" in bench and "<svg" in bench and "9000" in bench


def test_socklab_report_replays_a_saved_log(tmp_path, capsys):
    log = tmp_path / "run.jsonl"
    log.write_text("".join(e.to_line() + "\n" for e in synthetic_log(3)))
    out = tmp_path / "run.html"
    assert main(["report", str(log), "-o", str(out)]) == ExitCode.OK
    assert timeline_bars(out.read_text()) == 3


def test_a_file_that_is_no_event_log_is_said_so(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("hello\n")
    assert main(["report", str(bad), "-o", str(tmp_path / "x.html")]) == ExitCode.FAILED
    assert "not a socklab event log" in capsys.readouterr().err


def test_an_empty_log_still_makes_a_page(tmp_path):
    path = write_report([], tmp_path / "empty.html")
    assert "NO VERDICT" in path.read_text()


@pytest.mark.parametrize("clients", [50])
def test_fifty_clients_stay_small(clients):
    html = render(read_run(synthetic_log(clients)))
    assert timeline_bars(html) == clients
    assert len(html.encode()) < 1_000_000


def test_two_labs_of_one_run_stay_apart():
    recorder = Recorder(run="two")
    for lab in ("a", "b"):
        prefix = recorder.lab_prefix(lab)
        recorder.emit(Kind.HOST, prefix + "server", t=T0, role="server", address="10.0.0.2", image=f"img-{lab}")
        recorder.emit(Kind.CONNECTED, prefix + "client-1", t=T0 + 1, peer="10.0.0.2:9736", address="10.0.0.3:4000")
        recorder.emit(
            Kind.ANSWERED, prefix + "client-1", t=T0 + 2, reply=66, seconds=1.0, ok=True, address="10.0.0.3:4000"
        )
        recorder.emit(Kind.VERDICT, t=T0 + 3, ok=lab == "a", text=f"verdict {lab}", details=[], lab=prefix.rstrip("/"))
    view = read_run(recorder.events)
    assert [(lab.name, lab.title, len(lab.exchanges)) for lab in view.labs] == [
        ("", "img-a", 1),
        ("lab2", "lab2: img-b", 1),
    ]
    assert [lab.verdict and lab.verdict["text"] for lab in view.labs] == ["verdict a", "verdict b"]
    assert view.ok is False and timeline_bars(render(view)) == 2


def test_a_scenarios_steps_are_drawn_on_the_timeline_and_listed_with_its_probes() -> None:
    events = synthetic_log(3)
    recorder = Recorder(run="synthetic")
    for k in range(1, 4):  # a second exchange per client: the timeline with a row per client
        host, address = f"client-{k}", f"10.0.0.{k + 2}:5{k:04d}"
        recorder.emit(Kind.CONNECTED, host, t=T0 + 5, peer="10.0.0.2:9736", address=address)
        recorder.emit(Kind.ANSWERED, host, t=T0 + 6, reply=66, seconds=1.0, ok=True, address=address)
    recorder.emit(Kind.STEP, "scenario", t=T0 + 4.5, name="cut fault", action="fault partition on server for 2s",
                  label="partition on server", planned=3.0, fired=3.4, late=True, targets=["server"])  # fmt: skip
    recorder.emit(Kind.PROBE, "scenario", t=T0 + 7, phase="after", probe="lost", value=1, tolerance="at-most 0",
                  ok=False, detail="1 of 6 never answered")  # fmt: skip
    view = read_run(events + recorder.events)
    assert [s["planned"] for s in view.steps] == [3.0] and view.probes[0]["probe"] == "lost"
    html = render(view)
    page = parse(html)
    assert "scenario" in page.ids()
    assert "3s partition on server" in html  # the step's label on the timeline, where it fired
    assert "fault partition on server for 2s" in html and ">400<" in html  # listed: 400 ms late
    assert "1 of 6 never answered" in html and ">NO<" in html
    assert_offline(html)
