"""Chaos Toolkit probes over a socklab lab: the scenario probes (``socklab.scenarios.probes``).

``window="wave"`` (a steady-state hypothesis's): a wave of one exchange from every client host, shared by the
hypothesis's probes (the control starts one per hypothesis; without it, a probe makes its own when there is
none yet); ``window="run"``: every exchange the ``clients`` action started so far. Use the value with a
``range`` tolerance (``[1, 1]`` for ``answered``), ``true`` for ``server_alive``.
"""

from typing import Any

from socklab.chaostoolkit import session
from socklab.scenarios.probes import Window, measure

__all__ = ["answered", "defunct", "exit_codes", "latency_p50", "latency_p99", "lost", "server_alive", "wave"]


def _window(held: session.Session, window: str) -> Window:
    if window == "run":
        return held.hosts.window(held.batches)
    if window != "wave":
        raise ValueError(f"window {window!r}: wave or run")
    if held.wave is None:
        held.wave = held.hosts.wave(held.every_host(), label="hypothesis")
    return held.wave


def _value(name: str, window: str, lab: str) -> Any:
    held = session.get(lab)
    return measure(name, _window(held, window) if window else Window(), held.server).value


def wave(lab: str = "lab") -> int:
    """Make a fresh wave now (every client host, one exchange): what the next ``window="wave"`` probes read."""
    held = session.get(lab)
    held.wave = held.hosts.wave(held.every_host(), label="hypothesis")
    return len(held.wave.results)


def answered(window: str = "wave", lab: str = "lab") -> float:
    """Share of exchanges answered correctly (0 when there were none)."""
    return float(_value("answered", window, lab) or 0.0)


def lost(window: str = "wave", lab: str = "lab") -> int:
    """Exchanges sent and never answered correctly."""
    return int(_value("lost", window, lab) or 0)


def latency_p50(window: str = "wave", lab: str = "lab") -> float:
    """Median connect-to-answer seconds of the answered exchanges (-1: none answered)."""
    value = _value("latency-p50", window, lab)
    return -1.0 if value is None else float(value)


def latency_p99(window: str = "wave", lab: str = "lab") -> float:
    """99th percentile connect-to-answer seconds of the answered exchanges (-1: none answered)."""
    value = _value("latency-p99", window, lab)
    return -1.0 if value is None else float(value)


def server_alive(lab: str = "lab") -> bool:
    """The server container runs and answers an exchange from the host."""
    return bool(_value("server-alive", "", lab))


def defunct(lab: str = "lab") -> int:
    """<defunct> processes in the server's container."""
    return int(_value("defunct", "", lab) or 0)


def exit_codes(window: str = "run", lab: str = "lab") -> int:
    """Client containers that exited with a code other than 0."""
    return int(_value("exit-codes", window, lab) or 0)
