"""What ``crash`` expects of each way a server goes away, and the verdict from what the client saw.

Pure functions over the probe's records (``probes.crash``), so the verdict can be checked from recorded
numbers. Times are seconds after the fault. The margins come from the mechanisms: a killed process's
FIN leaves as the process dies (well under a second, even here); keepalive gives up
``idle + count * interval`` after the last reply it had, and that reply came at most ``idle`` before the
fault (a probe goes out every ``idle`` while the peer answers), so between ``count * interval`` and
``idle + count * interval`` after the fault, give or take the timer's slack on a loaded machine.
"""

from __future__ import annotations

from typing import Any

KEEPALIVE = (1, 1, 3)  # TCP_KEEPIDLE, TCP_KEEPINTVL (seconds), TCP_KEEPCNT
FIN_WITHIN = 1.0  # seconds: a killed process's connections are closed as it dies
SLACK = (0.5, 1.5)  # seconds before / after keepalive's window: timer slack, a loaded machine


def outcome(record: dict[str, Any], fault_at: float, released_at: float | None = None) -> dict[str, Any]:
    """One connection's record as seconds after the fault: what it saw, the first thing, its kernel state."""
    seen = [
        {**{k: v for k, v in s.items() if k != "at"}, "after_s": round(s["at"] - fault_at, 3)} for s in record["seen"]
    ]
    first = seen[0] if seen else None
    return {
        "seen": seen,
        "first": first["what"] if first else "silence",
        "first_after_s": first["after_s"] if first else None,
        "released_after_s": None if released_at is None else round(released_at - fault_at, 3),
        "max_keepalive_probes": record.get("max_probes", 0),
        "state_at_end": record.get("state"),
        "local": record.get("local"),
    }


def _whats(connection: dict[str, Any]) -> list[str]:
    return [s["what"] for s in connection["seen"]]


def keepalive_window() -> tuple[float, float]:
    idle, interval, count = KEEPALIVE
    return count * interval - SLACK[0], idle + count * interval + SLACK[1]


def _kill(found: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("plain", "keepalive"):
        c = found[key]
        if c["first"] != "eof" or (c["first_after_s"] or 0) > FIN_WITHIN:
            when = "" if c["first_after_s"] is None else f" after {c['first_after_s']:.2f} s"
            problems.append(f"a killed server's connection ({key}) ended with {c['first']}{when}, not a FIN at once")
        elif "reset" not in _whats(c):
            problems.append(f"a write to the killed server ({key}) drew no RST")
    return problems


def _partition(found: dict[str, Any], watch: float) -> list[str]:
    problems = []
    plain, alive = found["plain"], found["keepalive"]
    if plain["first"] != "silence":
        problems.append(f"without keepalive the client saw {plain['first']} from a vanished host")
    low, high = keepalive_window()
    if alive["first"] != "timeout":
        problems.append(f"SO_KEEPALIVE did not find the vanished host dead within {watch:g} s ({alive['first']})")
    elif not low <= alive["first_after_s"] <= high:
        problems.append(
            f"SO_KEEPALIVE found the vanished host dead after {alive['first_after_s']:.1f} s, "
            f"not within {low:g}-{high:g} s"
        )
    return problems


def _pause(found: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("plain", "keepalive"):
        c = found[key]
        early = [s for s in c["seen"] if c["released_after_s"] is not None and s["after_s"] < c["released_after_s"]]
        if early:
            problems.append(f"a paused server's connection ({key}) saw {early[0]['what']} while frozen")
        elif c["first"] != "answer":
            problems.append(f"a paused server's connection ({key}) got {c['first']} once thawed, not the answer")
    return problems


def _stop(found: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("plain", "keepalive"):
        whats = _whats(found[key])
        if whats[:2] != ["answer", "eof"]:
            problems.append(f"a cleanly stopped server's connection ({key}) saw {', '.join(whats) or 'nothing'}")
    return problems


def differences(variants: dict[str, dict[str, Any]], watch: float) -> list[str]:
    """Where what the client saw is not what the lesson says it sees (empty: as the lesson says)."""
    found: list[str] = []
    if "kill" in variants:
        found += _kill(variants["kill"])
    if "partition" in variants:
        found += _partition(variants["partition"], watch)
    if "pause" in variants:
        found += _pause(variants["pause"])
    if "stop" in variants:
        found += _stop(variants["stop"])
    return found
