"""The scheduler on a fake clock: each action at its moment, a late one reported and never shifting the
others; on the real clock, never early."""

from __future__ import annotations

import threading

from socklab.scenarios.scheduler import LATE, FakeClock, InlineExecutor, MonotonicClock, Scheduler, Timed


def test_each_action_fires_at_its_moment() -> None:
    clock = FakeClock()
    fired = Scheduler(clock, InlineExecutor()).run([Timed(2.0, "b", lambda: "b"), Timed(0.5, "a", lambda: "a")])
    assert [(f.timed.name, f.fired, f.said) for f in fired] == [("a", 0.5, "a"), ("b", 2.0, "b")]
    assert not any(f.late for f in fired)


def test_a_slow_action_makes_the_next_late_and_reports_it_but_shifts_nothing_else() -> None:
    clock = FakeClock()

    def slow() -> str:
        clock.advance(1.5)  # it took 1.5 s, in the scheduler's own thread
        return "slow"

    items = [Timed(1.0, "slow", slow), Timed(2.0, "next", lambda: "next"), Timed(5.0, "later", lambda: "later")]
    fired = {f.timed.name: f for f in Scheduler(clock, InlineExecutor()).run(items)}
    assert fired["next"].planned == 2.0 and fired["next"].fired == 2.5 and fired["next"].late
    assert fired["next"].lateness == 0.5 > LATE
    assert fired["later"].fired == 5.0 and not fired["later"].late  # its own moment, not shifted by 0.5


def test_a_failing_action_is_reported_and_the_run_goes_on() -> None:
    def broken() -> str:
        raise RuntimeError("no")

    fired = Scheduler(FakeClock(), InlineExecutor()).run([Timed(0, "x", broken), Timed(1, "y", lambda: "y")])
    assert fired[0].error == "RuntimeError: no" and fired[1].said == "y"


def test_halt_starts_nothing_more() -> None:
    clock = FakeClock()
    scheduler = Scheduler(clock, InlineExecutor())
    fired = scheduler.run([Timed(0, "stop", lambda: scheduler.halt() or "halted"), Timed(1, "never", lambda: "x")])
    assert fired[0].said == "halted" and fired[1].fired is None


def test_on_the_real_clock_nothing_fires_before_its_moment() -> None:
    seen: list[str] = []
    lock = threading.Lock()

    def note(name: str) -> str:
        with lock:
            seen.append(name)
        return name

    items = [Timed(0.02 * k, f"s{k}", lambda k=k: note(f"s{k}")) for k in range(6)]
    fired = Scheduler(MonotonicClock()).run(items)
    assert sorted(seen) == [f"s{k}" for k in range(6)]
    assert all(f.fired is not None and f.fired >= f.planned for f in fired)
