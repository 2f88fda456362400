"""The one list of probes: what each measures, in which unit, and how, over a window of exchanges or on the
server as it is now. The scenario schema, the runner, the journal and the Chaos Toolkit extension read it.

An exchange probe is judged on a ``Window``: the result records the clients printed (one per exchange,
``wire.ClientResult``) and the exit codes of the client containers that ended. A server probe asks the
lab's server now (``ServerSide``): is it running and answering, how many ``<defunct>`` processes it holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from socklab import wire
from socklab.load.stats import percentile


@dataclass(frozen=True)
class Window:
    """What exchange probes are judged on (a wave, the method so far, the whole method)."""

    results: tuple[wire.ClientResult, ...] = ()
    exit_codes: Mapping[str, int] = field(default_factory=dict)  # a client container's role -> its exit code

    def answered(self) -> list[wire.ClientResult]:
        return [r for r in self.results if r.ok and r.received == wire.expected_reply(r.sent)]

    def __add__(self, other: Window) -> Window:
        return Window(self.results + other.results, {**self.exit_codes, **other.exit_codes})


@dataclass(frozen=True)
class Measured:
    value: float | None  # None: nothing to measure (no exchange in the window): the check fails
    detail: str = ""


class ServerSide(Protocol):
    """The lab's server now, as the server probes ask it."""

    def alive(self) -> tuple[bool, str]:
        """Running and answering one exchange from the host in time; and what was seen."""
        ...

    def defunct(self) -> tuple[int, str]:
        """``<defunct>`` processes in its container; and which."""
        ...


@dataclass(frozen=True)
class ProbeKind:
    name: str
    unit: str
    measures: str
    of: str  # "exchanges" (over a window) or "server" (now)
    measure: Callable[[Window, ServerSide | None], Measured]


def _answered(window: Window, _server: ServerSide | None) -> Measured:
    total = len(window.results)
    if not total:
        return Measured(None, "no exchange in the window")
    good = len(window.answered())
    return Measured(good / total, f"{good}/{total} answered correctly")


def _lost(window: Window, _server: ServerSide | None) -> Measured:
    bad = [r for r in window.results if r not in window.answered()]
    outcomes: dict[str, int] = {}
    for result in bad:
        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
    said = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
    return Measured(float(len(bad)), f"{len(bad)} of {len(window.results)} never answered{f': {said}' if said else ''}")


def _latency(q: float) -> Callable[[Window, ServerSide | None], Measured]:
    def measure(window: Window, _server: ServerSide | None) -> Measured:
        took = [(r.connect_seconds or 0.0) + (r.answer_seconds or 0.0) for r in window.answered()]
        if not took:
            return Measured(None, "no exchange answered in the window")
        value = percentile(took, q)
        return Measured(value, f"p{q:g} of {len(took)} answered exchanges, connect to answer")

    return measure


def _alive(_window: Window, server: ServerSide | None) -> Measured:
    if server is None:
        return Measured(None, "no server to ask")
    ok, said = server.alive()
    return Measured(1.0 if ok else 0.0, said)


def _defunct(_window: Window, server: ServerSide | None) -> Measured:
    if server is None:
        return Measured(None, "no server to ask")
    count, said = server.defunct()
    return Measured(float(count), said)


def _exit_codes(window: Window, _server: ServerSide | None) -> Measured:
    failed = {role: code for role, code in sorted(window.exit_codes.items()) if code != 0}
    said = ", ".join(f"{role} exited {code}" for role, code in failed.items())
    return Measured(float(len(failed)), said or f"{len(window.exit_codes)} client container(s), every one exited 0")


PROBES: dict[str, ProbeKind] = {
    probe.name: probe
    for probe in (
        ProbeKind("answered", "share", "share of exchanges answered correctly (the byte plus one)", "exchanges",
                  _answered),
        ProbeKind("lost", "exchanges", "exchanges sent and never answered correctly", "exchanges", _lost),
        ProbeKind("latency-p50", "s", "median connect-to-answer time of the answered exchanges", "exchanges",
                  _latency(50)),
        ProbeKind("latency-p99", "s", "99th percentile connect-to-answer time of the answered exchanges", "exchanges",
                  _latency(99)),
        ProbeKind("server-alive", "0 or 1", "1 when the server container runs and answers an exchange from the host",
                  "server", _alive),
        ProbeKind("defunct", "processes", "<defunct> (zombie) processes in the server's container", "server",
                  _defunct),
        ProbeKind("exit-codes", "containers", "client containers that exited with a code other than 0",
                  "exchanges", _exit_codes),
    )
}  # fmt: skip


def measure(name: str, window: Window, server: ServerSide | None) -> Measured:
    value = PROBES[name].measure(window, server)
    if value.value is not None and isinstance(value.value, float) and math.isnan(value.value):
        return Measured(None, value.detail)
    return value
