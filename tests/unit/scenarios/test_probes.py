"""Each probe over a window of exchanges, or on the server now. No Docker."""

from __future__ import annotations

from socklab import wire
from socklab.scenarios.model import Check, Tolerance
from socklab.scenarios.probes import PROBES, Window, measure


def result(outcome: str = "ok", seconds: float = 1.0, received: int | None = 0x42) -> wire.ClientResult:
    ok = outcome == "ok"
    return wire.ClientResult("h", "10.0.0.3:4000", "10.0.0.2:9736", 0x41, received if ok else None, 0.0, seconds,
                             0.0, seconds if ok else None, 1, outcome, 0 if ok else 4)  # fmt: skip


class Server:
    def __init__(self, alive: bool, zombies: int) -> None:
        self._alive, self._zombies = alive, zombies

    def alive(self) -> tuple[bool, str]:
        return self._alive, "running" if self._alive else "exited"

    def defunct(self) -> tuple[int, str]:
        return self._zombies, f"{self._zombies} <defunct>"


def test_answered_and_lost_count_right_answers_only() -> None:
    window = Window((result(), result("timeout"), result(received=0x41), result()), {})
    assert measure("answered", window, None).value == 0.5
    lost = measure("lost", window, None)
    assert lost.value == 2.0 and "1 ok" in lost.detail and "1 timeout" in lost.detail  # a wrong 'A' is not 'ok'
    assert measure("answered", Window(), None).value is None  # nothing tested: the check fails


def test_latency_percentiles_of_the_answered_exchanges() -> None:
    window = Window((*(result(seconds=s) for s in (1.0, 1.1, 1.2, 3.0)), result("closed", 9.0)), {})
    assert measure("latency-p50", window, None).value == 1.1
    assert measure("latency-p99", window, None).value == 3.0


def test_server_probes_and_exit_codes() -> None:
    assert measure("server-alive", Window(), Server(True, 0)).value == 1.0
    assert measure("server-alive", Window(), Server(False, 0)).value == 0.0
    assert measure("defunct", Window(), Server(True, 2)).value == 2.0
    codes = measure("exit-codes", Window((), {"a/client-1": 0, "a/client-2": 4}), None)
    assert codes.value == 1.0 and codes.detail == "a/client-2 exited 4"


def test_a_tolerance_is_a_bound_and_nothing_measured_never_holds() -> None:
    check = Check("answered", Tolerance(at_least=0.9))
    assert check.tolerance.holds(0.95) and not check.tolerance.holds(0.5) and not check.tolerance.holds(None)
    assert Tolerance(at_most=0).holds(0) and not Tolerance(at_most=0).holds(1)
    assert set(PROBES) >= {"answered", "lost", "latency-p50", "latency-p99", "server-alive", "defunct", "exit-codes"}
