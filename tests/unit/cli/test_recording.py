"""--events and --report on a command: the run's start, its verdict and its end around what it emitted."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from socklab.cli.recording import recorded
from socklab.events import Kind, parse_log
from socklab.events import recorder as events
from socklab.events.options import RecordOptions
from socklab.wire.knobs import option


@dataclass(frozen=True)
class DemoOptions(RecordOptions):
    clients: int = option(3, "how many")


def command(options: DemoOptions) -> int:
    events.emit(Kind.ANSWERED, "client-1", reply=66, seconds=1.0, ok=True)
    return 0


def test_the_log_brackets_the_command_and_the_report_is_written(tmp_path):
    log, report = tmp_path / "e.jsonl", tmp_path / "r.html"
    code = recorded("demo", command)(DemoOptions(events=str(log), report=str(report)))
    kinds = [e.kind for e in parse_log(log.read_text())]
    assert code == 0
    assert kinds == [Kind.RUN_STARTED, Kind.ANSWERED, Kind.VERDICT, Kind.RUN_FINISHED]
    started = parse_log(log.read_text())[0]
    assert started.data["command"] == "demo" and started.data["args"] == {"clients": 3}
    assert "finished: exit 0" in report.read_text()


def test_without_either_flag_nothing_is_recorded(tmp_path):
    assert recorded("demo", command)(DemoOptions()) == 0
    assert events.active() is None and list(tmp_path.iterdir()) == []


def test_a_command_that_fails_still_leaves_its_log_and_report(tmp_path):
    def broken(options: DemoOptions) -> int:
        raise RuntimeError("engine went away")

    log, report = tmp_path / "e.jsonl", tmp_path / "r.html"
    with pytest.raises(RuntimeError):
        recorded("demo", broken)(DemoOptions(events=str(log), report=str(report)))
    (verdict,) = [e for e in parse_log(log.read_text()) if e.kind is Kind.VERDICT]
    assert not verdict.data["ok"] and "engine went away" in verdict.data["details"][0]
    assert "engine went away" in report.read_text()


def test_a_report_must_be_html():
    with pytest.raises(ValueError, match="html"):
        DemoOptions(report="r.txt")


def test_kernel_is_asked_of_the_recorder_the_labs_of_the_run_read(tmp_path):
    seen: list[bool] = []

    def look(options: DemoOptions) -> int:
        recorder = events.active()
        seen.append(recorder is not None and recorder.kernel)
        return 0

    recorded("demo", look)(DemoOptions(events=str(tmp_path / "k.jsonl"), kernel=True))
    recorded("demo", look)(DemoOptions(events=str(tmp_path / "e.jsonl")))
    assert seen == [True, False]


def test_kernel_alone_has_nowhere_to_go():
    with pytest.raises(ValueError, match="--kernel records events"):
        DemoOptions(kernel=True)
    assert DemoOptions(kernel=True, view=True).kernel


@pytest.mark.parametrize(
    ("options", "says"),
    [("socklab.bench.options:BenchOptions", "not for bench"), ("socklab.swarm.run:SwarmUpOptions", "other engines")],
)
def test_commands_that_observe_no_lab_of_this_engine_refuse_kernel(options, says):
    import importlib

    module, name = options.split(":")
    with pytest.raises(ValueError, match=says):
        getattr(importlib.import_module(module), name)(kernel=True, events="e.jsonl")
