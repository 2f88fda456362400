"""The sidecar protocol, both directions: specs (host -> agent) and events (agent -> host). No Docker."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from socklab.paths import ROOT
from socklab.sidecar.protocol import (
    EVENTS,
    Applied,
    Clean,
    Cleaned,
    Drained,
    Established,
    Event,
    Failed,
    FaultSpec,
    ProbeNetem,
    ProbeResult,
    ProtocolError,
    Ready,
    Spec,
    TimedOut,
    Undone,
    WaitDrained,
    WaitEstablished,
    parse_event,
    parse_spec,
)

SPECS: list[Spec] = [
    FaultSpec("loss", "t1", 0.3, percent=20.0),
    FaultSpec("loss", "t1", percent=100),
    FaultSpec("partition", "t3"),
    FaultSpec("partition", "t3", direction="from", armed=True),
    FaultSpec("reset", "t4", seconds=0.5),
    FaultSpec("rate", "t2", kbit=100),
    FaultSpec("latency", "t6", ms=100.0),
    FaultSpec("latency", "t6", ms=100.0, jitter_ms=20.0),
    ProbeNetem(),
    Clean(),
    WaitEstablished(port=9736, count=3, timeout=60),
    WaitDrained(port=9736, timeout=5),
]
NOW = 1_764_680_000.25
EVENTS_SAID: list[Event] = [
    Ready(NOW, "iptables: DROP everything (outgoing only)", interfaces=("eth0",)),
    Applied(NOW, "iptables: DROP everything", commands=("iptables -w -N SOCKLAB-F-t3",), interfaces=("eth0",)),
    Failed(NOW, "bad spec: loss needs percent"),
    Failed(NOW, "`tc` failed", mechanism="tc: netem", clean=False, diff=("qdiscs: + qdisc netem",)),
    Undone(NOW, "its time ran out", clean=True),
    Undone(NOW, "SIGTERM", clean=False, diff=("iptables: + x",), errors=("`iptables -X`: busy",)),
    ProbeResult(NOW, netem=False, detail="Error: Specified qdisc kind is unknown."),
    Cleaned(NOW, commands=("iptables -w -F SOCKLAB-F-old",), errors=()),
    Established(NOW, count=3),
    TimedOut(NOW, count=1),
    Drained(NOW, waited=1.25),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.to_json())
def test_a_spec_reads_back_as_written(spec: Spec) -> None:
    assert parse_spec(spec.to_json()) == spec


def test_every_event_kind_is_covered() -> None:
    assert {type(e) for e in EVENTS_SAID} == set(EVENTS.values())


@pytest.mark.parametrize("event", EVENTS_SAID, ids=lambda e: e.tag)
def test_an_event_reads_back_as_written(event: Event) -> None:
    line = event.to_json()
    assert "\n" not in line and json.loads(line)["event"] == event.tag
    assert parse_event(line) == event


def test_the_wire_format_is_the_agents_json_lines() -> None:
    """What the agent always printed (the fault tests read these fields): the classes change no byte's meaning."""
    assert json.loads(FaultSpec("loss", "t1", 0.3, percent=20.0).to_json()) == {
        "kind": "loss",
        "id": "t1",
        "seconds": 0.3,
        "percent": 20.0,
    }
    assert json.loads(Undone(NOW, "the holder asked", clean=True).to_json()) == {
        "event": "undone",
        "at": NOW,
        "reason": "the holder asked",
        "clean": True,
        "diff": [],
        "errors": [],
    }
    assert parse_event('{"event": "failed", "at": 1.5, "message": "x"}') == Failed(1.5, "x")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not JSON"),
        ("[1]", "JSON object"),
        ("{}", "needs a kind"),
        ('{"kind": "meteor", "id": "a"}', "unknown fault kind 'meteor'"),
        ('{"kind": "loss", "percent": 5}', "missing field.* id"),
        ('{"kind": "loss", "id": "a"}', r"percent None must be a finite number"),
        ('{"kind": "loss", "id": "a", "percent": 0}', r"percent 0 must be in \(0, 100\]"),
        ('{"kind": "loss", "id": "a", "percent": 150}', r"percent 150 must be in"),
        ('{"kind": "loss", "id": "a", "percent": NaN}', "percent nan must be a finite number"),
        ('{"kind": "loss", "id": "a", "percent": "20"}', "percent '20' must be a finite number"),
        ('{"kind": "loss", "id": "a", "percent": true}', "percent True must be a finite number"),
        ('{"kind": "loss", "id": "a", "percent": 5, "kbit": 9}', "loss takes no kbit"),
        ('{"kind": "partition", "id": "a", "percent": 5}', r"partition takes no percent \(it takes: direction\)"),
        ('{"kind": "rate", "id": "a", "kbit": 0}', "kbit 0 must be >= 1"),
        ('{"kind": "rate", "id": "a", "kbit": 1.5}', "kbit 1.5 must be an integer"),
        ('{"kind": "latency", "id": "a", "ms": -1}', r"ms -1 must be in \(0, inf\]"),
        ('{"kind": "latency", "id": "a", "ms": 5, "jitter_ms": -2}', "jitter_ms -2 must be in"),
        ('{"kind": "reset", "id": "a", "seconds": Infinity}', "seconds inf must be a finite number"),
        ('{"kind": "reset", "id": "a; rm -rf /"}', "fault id .* must be 1-20 letters"),
        ('{"kind": "reset", "id": "a", "colour": "red"}', r"unknown field\(s\) colour"),
        ('{"kind": "clean", "port": 1}', r"clean: unknown field\(s\) port"),
        ('{"kind": "wait-established", "port": 0, "count": 1}', "port 0 must be 1..65535"),
        ('{"kind": "wait-established", "port": 9736}', r"missing field\(s\) count"),
        ('{"kind": "wait-drained", "port": 9736, "timeout": 0}', r"timeout 0 must be in \(0, inf\]"),
    ],
)
def test_a_bad_spec_is_named(text: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_spec(text)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("Traceback (most recent call last):", "not JSON"),
        ('{"event": "exploded", "at": 1}', "unknown event 'exploded'"),
        ('{"at": 1}', "unknown event None"),
        ('{"event": "applied", "at": 1}', r"missing field\(s\) mechanism"),
        ('{"event": "undone", "at": 1, "reason": "x", "clean": "yes"}', "clean 'yes' must be true or false"),
        ('{"event": "applied", "at": 1, "mechanism": "m", "commands": [1]}', "commands .* must be a list of strings"),
        ('{"event": "probe", "at": NaN, "netem": true}', "at nan must be a finite number"),
        ('{"event": "established", "at": 1, "count": -1}', "count -1 must be >= 0"),
        ('{"event": "failed", "at": 1, "message": "m", "clean": 1}', "clean 1 must be true or false"),
    ],
)
def test_a_bad_event_is_named(line: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_event(line)


def test_the_host_cannot_even_make_a_bad_fault() -> None:
    """The host builds FaultSpec in NetworkFault's constructor: a bad fault fails before any container."""
    from socklab.faults.network import NetworkFault

    with pytest.raises(ValueError, match="unknown fault kind 'meteor'"):
        NetworkFault("some-container", "meteor", client=object())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "bad spec: the spec is not JSON"),
        (['{"kind": "loss", "id": "x"}'], "bad spec: percent None must be a finite number"),
        (['{"kind": "wait-established", "count": 2}'], r"bad spec: wait-established: missing field\(s\) port"),
    ],
)
def test_the_agent_answers_a_bad_spec_with_one_failed_event_and_exit_2(argv: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sidecar", *argv],
        cwd=ROOT / "agents",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2 and done.stderr == ""  # no traceback: a named error line
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    event = parse_event(lines[0])
    assert isinstance(event, Failed) and event.clean is None
    assert abs(event.at - time.time()) < 60
    assert re.search(message, event.message), event.message
