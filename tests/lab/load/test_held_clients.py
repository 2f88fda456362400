"""Correctness under load, never speed: every held client gets the right byte, and the server's own
summary agrees with what the loaders saw."""

from __future__ import annotations

import re

import pytest

from socklab.bench.measure import server_env
from socklab.bench.stage import Stage
from socklab.load.c_loader import LoadPlan, loaders_for, merge

pytestmark = pytest.mark.lab

SUMMARY = re.compile(r"summary: accepted (\d+), served (\d+), in flight (\d+), errors (\d+)")
DELAY = 2.0


def hold(stage: Stage, version: str, clients: int, workers: int = 1) -> None:
    plans = [LoadPlan("hold", clients=n, timeout=DELAY + 40, samples=True) for n in loaders_for(clients)]
    with stage.server(version, delay=DELAY, env=server_env(version, workers)) as server:
        result = merge(stage.load(server, plans))
        exit_code = server.container.stop(timeout=30)  # SIGTERM: the drain, then the final summary line
        log = server.container.logs()
    # The loaders check each answer (byte + 1); a wrong one, a reset or a timeout would be counted here.
    assert (result.ok, result.failed, result.errors) == (clients, 0, {}), log[-2000:]
    assert min(result.samples_ms) >= DELAY * 1000, "answered before the delay"
    accepted, served, in_flight, errors = map(int, SUMMARY.findall(log)[-1])
    assert served == clients, log[-2000:]
    # What else was accepted is the readiness probe and health checks (closed without a byte): errors.
    assert accepted == served + errors and in_flight == 0
    assert exit_code == 0


def test_ten_thousand_held_clients_on_the_fast_model(stage: Stage) -> None:
    hold(stage, "epoll", 10_000)


@pytest.mark.heavy  # the C reference's wire compatibility runs by default on loopback (tests/unit/load)
def test_ten_thousand_held_clients_on_the_c_reference(stage: Stage) -> None:
    hold(stage, "c-epoll", 10_000)


@pytest.mark.heavy
@pytest.mark.parametrize("version", ["epoll", "c-epoll"])
def test_a_hundred_thousand_held_clients(stage: Stage, version: str) -> None:
    hold(stage, version, 100_000, workers=6)
