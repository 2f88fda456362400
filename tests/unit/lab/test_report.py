"""A run is judged from the clients' timings, else from the server's log, else not at all."""

from __future__ import annotations

import json

from socklab.lab.client_run import ClientRun
from socklab.lab.report import judge_run


def _json_client(name: str, connected: float, answered: float) -> ClientRun:
    record = {
        "host": name, "address": "172.20.0.3:4000", "server": "172.20.0.2:9736", "sent": "A", "received": "B",
        "sent_byte": 65, "received_byte": 66, "connect_seconds": 0.01, "answer_seconds": answered - connected,
        "connected_at": connected, "answered_at": answered, "attempts": 1, "outcome": "ok", "exit_code": 0,
    }  # fmt: skip
    return ClientRun(name, 0, json.dumps(record) + "\n", "")


def _c_client(name: str) -> ClientRun:
    return ClientRun(name, 0, "char from server = B\n", "")


SERVER_LOG = "\n".join(
    f"2026-11-25T10:00:0{5 + k}.000000000Z 10:00:0{5 + k}.000 served 172.20.0.{3 + k}:4{k}000: "
    "'A' (0x41) -> 'B' (0x42) in 2.000 s"
    for k in range(3)
)


def test_json_clients_are_judged_by_their_own_timings():
    runs = [_json_client(f"c{k}", 100.0 + k * 0.1, 102.0 + k * 0.1) for k in range(3)]
    report = judge_run("s", "c", 2.0, runs, server_log="")
    assert report.judged_by == "clients" and report.verdict.concurrent and report.ok


def test_clients_without_json_are_judged_from_the_server_log():
    report = judge_run("s", "c", 2.0, [_c_client(f"c{k}") for k in range(3)], SERVER_LOG)
    # The served lines say each request took 2 s and the answers went out 1 s apart: overlapping.
    assert report.judged_by == "server log"
    assert report.verdict.answered == 3 and report.verdict.concurrent and report.ok


def test_a_serial_server_seen_only_through_its_log_is_not_concurrent():
    serial = "\n".join(
        f"2026-11-25T10:00:{10 + 2 * k:02d}.000000000Z served 172.20.0.{3 + k}:4000: "
        "'A' (0x41) -> 'B' (0x42) in 2.000 s"
        for k in range(4)
    )
    report = judge_run("s", "c", 0.5, [_c_client(f"c{k}") for k in range(4)], serial)
    assert report.judged_by == "server log" and not report.verdict.concurrent and not report.ok


def test_nothing_to_judge_by_is_said_and_is_not_a_failure():
    report = judge_run("s", "c", 2.0, [_c_client("c0"), _c_client("c1")], "a foreign server's log\n")
    assert report.judged_by == "nothing"
    assert report.verdict.summary().startswith("cannot judge concurrency")
    assert report.ok and report.as_json()["verdict"]["concurrent"] is None


def test_the_verdict_names_the_slowest_client_as_the_page_does_by_its_role():
    """The client reports its container's id as its host; the page calls it client-3, and so does the verdict."""
    runs = []
    for k in range(3):
        run = _json_client(f"{k:012x}", 100.0, 100.0 + 2.0 * (k + 1))  # a staircase: 2, 4, 6 s
        runs.append(ClientRun(f"socklab-r1-client-{k + 1}", 0, run.stdout, "", role=f"client-{k + 1}"))
    report = judge_run("s", "c", 2.0, runs, server_log="")
    assert not report.verdict.concurrent
    assert "(worst: client-3 6.00 s)" in report.verdict.summary()
    assert "00000002" not in report.verdict.summary()


def test_a_client_seen_only_in_the_servers_log_is_named_by_its_role_too():
    serial = "\n".join(
        f"2026-11-25T10:00:{10 + 2 * k:02d}.000000000Z served 172.20.0.{3 + k}:4000 "
        f"(socklab-r1-client-{k + 1}.socklab-r1_lab): 'A' (0x41) -> 'B' (0x42) in {2.0 * (k + 1):.3f} s"
        for k in range(3)
    )
    runs = [
        ClientRun(f"socklab-r1-client-{k + 1}", 0, "char from server = B\n", "", role=f"client-{k + 1}")
        for k in range(3)
    ]
    report = judge_run("s", "c", 2.0, runs, serial)
    assert report.judged_by == "server log"
    assert "(worst: client-3 6.00 s)" in report.verdict.summary()
