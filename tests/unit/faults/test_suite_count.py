"""Counting a fault's row from the clients' result records, and printing the table."""

from __future__ import annotations

from pathlib import Path

from socklab import wire
from socklab.faults.record import FaultRecord
from socklab.faults.suite import Row, _count
from socklab.faults.table import draw_png, format_table, short_server


def result(outcome: str, connected_at: float, seconds: float, cuts: int = 0) -> wire.ClientResult:
    ok = outcome == "ok"
    return wire.ClientResult(
        host="c1",
        address="10.0.0.2:4000",
        server="10.0.0.3:9736",
        sent=65,
        received=66 if ok else None,
        connect_seconds=0.01,
        answer_seconds=seconds,
        connected_at=connected_at,
        answered_at=connected_at + seconds if ok else None,
        attempts=1,
        outcome=outcome,
        exit_code=0 if ok else 5,
        retried_cuts=cuts,
    )


def record(start: float, end: float) -> FaultRecord:
    return FaultRecord("pause", "srv", "docker pause", applied_at=start, undone_at=end)


def test_a_row_counts_answers_losses_and_errors_by_kind() -> None:
    results = [result("ok", 0.0, 0.5), result("closed", 1.0, 0.1), result("ok", 2.0, 0.5, cuts=2)]
    row = _count("pause", "img", 4, results, record(1.0, 3.0))
    assert (row.sent, row.answered, row.lost) == (4, 2, 2)
    assert row.errors == {"closed": 1, "cut, retried": 2}
    assert not row.ok


def test_recovery_is_the_first_answer_after_the_fault_and_times_are_split_around_it() -> None:
    results = [result("ok", 0.0, 0.5), result("ok", 1.0, 2.5), result("ok", 4.0, 0.5)]
    row = _count("pause", "img", 3, results, record(1.2, 3.4))
    assert row.ok
    assert row.recovery_s == 0.1  # 3.5 - 3.4: the exchange held by the fault was answered on its end
    assert row.baseline_s == 0.51
    assert row.during_s == 2.51
    assert row.fault_s == 2.2


def test_the_table_has_a_row_per_fault_and_version_and_a_total(tmp_path: Path) -> None:
    rows = [
        Row("pause", "socklab-test/server:abc-fork", 10, 10, 0, recovery_s=0.2, fault_s=2.0),
        Row("loss", "socklab/server:c-fork", 10, 9, 1, errors={"timeout": 1}),
    ]
    table = format_table(rows)
    assert "pause" in table and "fork" in table and "c-fork" in table
    assert "timeout 1" in table
    assert table.splitlines()[-1] == "19/20 answered, 1 lost"
    picture = draw_png(rows, tmp_path / "out" / "faults.png")
    assert picture.read_bytes().startswith(b"\x89PNG")


def test_short_server_names() -> None:
    assert short_server("socklab-test/server:1a2b3c-fork") == "fork"
    assert short_server("socklab-test/server:1a2b3c-c-fork") == "c-fork"
    assert short_server("socklab/server:thread") == "thread"
    assert short_server("example/other:2") == "example/other:2"
