"""The bad-input rules without Docker: the table's labs, and the checks against the real server on a
loopback port (the checks only ask a Lab for an address, a port, a delay and a log) and against a server
that breaks a rule."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import pytest

from socklab.checks import bad_input, contract
from socklab.checks.bad_input import BAD_INPUT
from socklab.checks.contract import RULES, ContractViolation, NotApplicable, check_rule
from socklab.lab.lab import Lab
from socklab.lab.topology import LOCKED_DOWN
from support import ServerProcess


@dataclass
class LoopbackLab:
    """What the checks use of a ``Lab``, over a server on 127.0.0.1."""

    port: int
    delay: float
    log: Any = lambda: ""
    server_image: str = "local"

    def server_address(self) -> str:
        return "127.0.0.1"

    def server_logs(self) -> str:
        return str(self.log())


@pytest.fixture
def server() -> Iterator[Lab]:
    with ServerProcess("--delay", "0.2") as process:
        yield cast(Lab, LoopbackLab(process.port, 0.2, process.log))


def test_rule_ids_are_distinct_from_each_other_and_from_the_contracts():
    ids = [rule.id for rule in (*RULES, *BAD_INPUT)]
    assert len(set(ids)) == len(ids)


def test_the_limit_rows_carry_their_limits_and_the_others_the_locked_down_lab():
    rules = {rule.id: rule for rule in BAD_INPUT}
    assert rules["out-of-descriptors"].hardening.nofile == 40
    assert rules["fork-pids-limit"].hardening.pids_limit == 12
    assert rules["no-defunct"].delay == 0
    others = set(rules) - {"out-of-descriptors", "fork-pids-limit"}
    assert all(rules[name].hardening is LOCKED_DOWN for name in others)  # identity: the Lab's default


@pytest.mark.parametrize(
    "check",
    [
        bad_input.check_connect_and_close,
        bad_input.check_half_close,
        bad_input.check_garbage,
        bad_input.check_reset_during_delay,
    ],
)
def test_the_real_server_keeps_the_rules_a_loopback_can_show(server, check):
    check(server)


def test_a_small_burst_ends_clearly(server):
    outcomes = bad_input.burst(server, 20, deadline=10)
    assert outcomes == {bad_input.ANSWERED: 20}


@pytest.fixture
def echo() -> Iterator[Lab]:
    """A server that answers each connection's first byte unchanged, then closes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.sendall(conn.recv(1))

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield cast(Lab, LoopbackLab(listener.getsockname()[1], 0, lambda: "echo server"))
    finally:
        listener.close()


def test_a_violation_names_the_rule_and_what_a_user_sees(echo):
    with pytest.raises(ContractViolation) as caught:
        bad_input.check_half_close(echo)
    assert caught.value.rule == bad_input.HALF_CLOSE
    assert caught.value.detail == "'A' then a half close got 0x41, expected 'B'"
    assert "echo server" in str(caught.value)


def test_the_fork_rule_does_not_apply_to_another_model():
    images = SimpleNamespace(get=lambda _name: SimpleNamespace(labels={"io.socklab.model": "epoll"}))
    lab = cast(Lab, SimpleNamespace(server_image="x:1", docker=SimpleNamespace(images=images)))
    with pytest.raises(NotApplicable, match="model epoll, impl \\?"):
        bad_input.check_fork_under_pids_limit(lab)


def test_check_rule_reports_a_rule_that_does_not_apply_as_neither_kept_nor_broken(monkeypatch):
    made: list[dict[str, Any]] = []

    class NoDocker:
        def __init__(self, **options: Any) -> None:
            made.append(options)

        def start(self) -> None:
            pass

        def close(self) -> None:
            pass

    def does_not_apply(_lab: Lab) -> None:
        raise NotApplicable("only for fork")

    monkeypatch.setattr(contract, "Lab", NoDocker)
    tight = next(rule for rule in BAD_INPUT if rule.id == "out-of-descriptors").hardening
    rule = contract.Rule("x", "x", 1, does_not_apply, hardening=tight)
    result = check_rule("x:1", rule, client_image="c:1")
    assert (result.verdict, result.not_applicable, result.passed) == ("n/a", "only for fork", True)
    assert made[0]["hardening"].nofile == 40 and made[0]["purpose"] == "check"
