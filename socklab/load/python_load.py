"""Load from this Python process: one exchange, exchanges in sequence, a burst at once, an open-loop rate.

Enough for correctness under load and for what a Python client sees; for rates above a few thousand
connections per second the C loader (``c_loader``) is used, since this process would be the bottleneck.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from dataclasses import dataclass

from socklab.load.exchange import ask, ask_async


class WrongAnswer(ConnectionError):
    """The server answered something other than the byte plus one."""


def exchange(address: str, port: int, timeout: float, char: bytes = b"A") -> float:
    """One protocol exchange (``exchange.ask``); its seconds. WrongAnswer when it is not the byte plus one."""
    answer = ask(address, port, char, timeout=timeout)
    if not answer.ok:
        raise WrongAnswer(f"unexpected answer {answer.reply!r} to {char!r}")
    return answer.seconds


@dataclass(frozen=True)
class SequentialRun:
    latencies: list[float]
    finished_at: list[float]  # seconds since the run started, one per exchange answered
    failures: int


def sequential(address: str, port: int, seconds: float, timeout: float = 5.0) -> SequentialRun:
    """Exchange after exchange until ``seconds`` are up; a failed exchange is counted, not retried."""
    latencies: list[float] = []
    finished_at: list[float] = []
    failures = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        try:
            latencies.append(exchange(address, port, timeout=timeout))
            finished_at.append(time.perf_counter() - started)
        except OSError:
            failures += 1
    return SequentialRun(latencies, finished_at, failures)


@dataclass(frozen=True)
class Burst:
    """Per-connection seconds (``inf`` for a connection that failed, so that percentiles of a burst with
    failures say so), the failures by kind, and the time until every connection had its answer or gave up."""

    latencies: list[float]
    failures: Counter[str]
    total: float


async def _one(address: str, port: int, timeout: float, due: float | None = None) -> float | str:
    """One exchange: seconds from ``due`` (or from connect()) to the answer, or what went wrong."""
    started = time.perf_counter() if due is None else due
    try:
        async with asyncio.timeout(timeout):
            answer = await ask_async(address, port, b"A", timeout=None)
    except TimeoutError:  # before OSError: TimeoutError is one
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except ConnectionResetError:
        return "reset"
    except OSError as exc:
        return type(exc).__name__
    return time.perf_counter() - started if answer.ok else f"answer {answer.reply!r}"


def _burst_of(results: list[float | str], total: float) -> Burst:
    latencies = [r if isinstance(r, float) else math.inf for r in results]
    return Burst(latencies, Counter(r for r in results if isinstance(r, str)), total)


async def _burst(address: str, port: int, connections: int, timeout: float) -> Burst:
    """All connections started in one loop turn, so their SYNs leave the host back to back."""
    started = time.perf_counter()
    results = await asyncio.gather(*(_one(address, port, timeout) for _ in range(connections)))
    return _burst_of(list(results), time.perf_counter() - started)


def burst(address: str, port: int, connections: int, timeout: float) -> Burst:
    return asyncio.run(_burst(address, port, connections, timeout))


async def _open_loop(address: str, port: int, rate: float, seconds: float, timeout: float) -> Burst:
    started = time.perf_counter()
    count = max(1, round(rate * seconds))
    tasks = []
    for k in range(count):
        due = started + k / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.ensure_future(_one(address, port, timeout, due=due)))
    results = await asyncio.gather(*tasks)
    return _burst_of(list(results), time.perf_counter() - started)


def open_loop(address: str, port: int, rate: float, seconds: float, timeout: float = 10.0) -> Burst:
    """A new exchange every 1/``rate`` s whatever the others do; each latency counts from when it was due,
    so a stalled server shows as slow answers, not as a slower loader (no coordinated omission)."""
    return asyncio.run(_open_loop(address, port, rate, seconds, timeout))
