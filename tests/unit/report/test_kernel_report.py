"""The kernel's three views in the report, offline: from a log written as ``--kernel`` writes it."""

from __future__ import annotations

import re

from socklab.events.recorder import Recorder
from socklab.report.model import read_run
from socklab.report.render import render
from support_kernel import Story
from support_report import assert_offline, parse


def report_of(story: Story) -> str:
    recorder = Recorder(run="kernelreport")
    story.write(recorder)
    return render(read_run(recorder.events))


def section(html: str, name: str) -> str:
    start = html.index(f'<section id="{name}">')
    return html[start : html.index("</section>", start)]


def test_the_serial_servers_queue_its_clients_syns_and_its_one_lane_are_in_the_report():
    story = Story(model="serial", clients=9, delay=1.0, start=1_800_000_000.0)
    html = report_of(story)
    assert_offline(html)
    links = [v[1:] for tag, name, v in parse(html).attrs if tag == "a" and name == "href"]
    assert {"sockets", "packets", "syscalls"} <= set(links)

    sockets = section(html, "sockets")
    (row,) = re.findall(r"<tr class=\"failed\"><td>server</td>.*?</tr>", sockets, re.S)
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    assert cells[:3] == ["5", "6", "6"], "backlog 5, holds 6, and 6 waited at once"
    assert float(cells[3]) > 0.5, "it stayed full while the server served one client at a time"
    assert "<svg" in sockets and "ESTABLISHED" in sockets and "TIME_WAIT" in sockets

    packets = section(html, "packets")
    # The first connection, and the one sent again most, which is the last one to get in.
    assert re.findall(r"<figcaption>(client-\d+)'s connection", packets) == ["client-1", "client-9"]
    rows = re.findall(r"<tr[^>]*><td>(client-\d+)</td>.*?</tr>", packets, re.S)
    assert rows == [f"client-{k}" for k in range(1, 10)]
    again = {
        who: int(n)
        for who, n in re.findall(
            r"<td>(client-\d+)</td><td class=\"mono\">[^<]*</td><td class=\"num\">\d+</td><td class=\"num\">(\d+)</td>",
            packets,
        )
    }
    assert again["client-9"] == len(story.conns[9].syns) - 1 >= 2 and again["client-1"] == 0
    assert "closed first" in packets and packets.count("<td>server</td>") == 9  # the server closes first

    calls = section(html, "syscalls")
    assert calls.count("<svg") == 1 and "accept4" in calls and "nanosleep" in calls
    assert "attached after they started" not in calls


def test_the_fork_servers_children_each_get_a_lane_and_a_late_tracer_is_said():
    html = report_of(Story(model="fork", clients=3, delay=0.5, spacing=0.3, attached_late=True))
    calls = section(html, "syscalls")
    assert_offline(html)
    assert all(f"pid {pid} (forked by 7)" in calls for pid in (8, 9, 10))
    assert "attached late" in calls and "the calls before (socket, bind, listen) are not seen" in calls


def test_fifty_clients_with_every_kernel_stream_stay_a_small_report():
    html = report_of(Story(model="fork", clients=50, delay=1.0, start=1_800_000_000.0))
    assert_offline(html)
    assert "more are in the event log" in section(html, "sockets")  # 100 sockets: the first 40 drawn
    assert "other processes not drawn" in section(html, "syscalls")  # 51 processes: 16 lanes
    assert len(html.encode()) < 1_500_000


def test_a_segment_is_one_rung_though_its_two_captures_number_it_differently():
    story = Story(model="fork", clients=2, delay=0.2)
    story.renumber("server", 4_286_201_015)  # the server's capture counts its own side from another start
    recorder = Recorder(run="renumbered")
    story.write(recorder)
    view = read_run(recorder.events).kernel
    assert sorted(len(c.rungs) for c in view.connections.values()) == [11, 11]
    assert all(len(r.at) == 2 for c in view.connections.values() for r in c.rungs), "each seen at both ends"


def test_the_wait_in_pselect6_before_accept_is_drawn_as_the_wait_for_a_connection():
    recorder = Recorder(run="select")
    Story(model="fork", clients=2, delay=0.5, spacing=1.0, select=True).write(recorder)
    view = read_run(recorder.events)
    (main, *_children) = sorted(view.kernel.lanes["server"].values(), key=lambda lane: lane.born)
    assert [c.call for c in main.calls if c.for_accept] == ["pselect6", "pselect6"]
    assert "pselect6: waiting for a connection" in section(render(view), "syscalls")
