"""What `socklab swarm up` prints: a row per client with its node, and the verdict. No engine."""

from __future__ import annotations

import json

import pytest

from socklab.analysis.verdict import judge
from socklab.cli.swarm import print_report, report_json
from socklab.swarm.run import UpReport
from socklab.swarm.stack import ClientRow, StackRun
from socklab.wire.result import ClientResult


def _row(node: str, host: str, address: str, start: float) -> ClientRow:
    result = ClientResult(
        host=host,
        address=address,
        server="10.0.1.9:9736",
        sent=0x41,
        received=0x42,
        connect_seconds=0.01,
        answer_seconds=5.0,
        connected_at=start,
        answered_at=start + 5.0,
        attempts=3,
        outcome="ok",
        exit_code=0,
    )
    return ClientRow(node=node, task="t" * 12, state="complete", result=result)


def _report(rows: list[ClientRow]) -> UpReport:
    intervals = [r.interval for r in rows if r.interval]
    verdict = judge(intervals, clients=3, delay=5.0)
    run = StackRun(tuple(rows), verdict, seconds=14.9, server_log="")
    return UpReport("3 Docker-in-Docker engines", "docker save | docker load", ("no IPVS",), run, 0.9, "keep")


def test_one_row_per_client_with_its_node_and_the_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [_row("node2", "aaaaaaaaaaaa", "10.0.1.2:1", 100.0), _row("node3", "bbbbbbbbbbbb", "10.0.1.3:2", 100.2)]
    rows.append(ClientRow(node="node3", task="cccccccccccc", state="rejected", result=None, error="No such image"))
    report = _report(rows)
    print_report(report)
    out = capsys.readouterr().out
    assert "node2    aaaaaaaaaaaa   10.0.1.2:1" in out and "'B'" in out
    assert "rejected: No such image" in out
    assert "NOT served concurrently: only 2 of 3 clients were answered" in out
    assert "swarm formed in 0.9 s" in out
    assert not report.ok


def test_json_carries_each_client_s_node_and_result() -> None:
    data = json.loads(json.dumps(report_json(_report([_row("node2", "aaaaaaaaaaaa", "10.0.1.2:1", 100.0)]))))
    (client,) = data["clients"]
    assert client["node"] == "node2" and client["received"] == "B" and client["host"] == "aaaaaaaaaaaa"
    assert data["verdict"]["concurrent"] is False  # 1 of 3
