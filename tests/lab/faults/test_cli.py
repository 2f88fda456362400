"""`socklab fault ...` against a foreign container: each fault applies, is felt, and is undone."""

from __future__ import annotations

import json
import signal
import time

import pytest

from socklab.faults.netem import netem_support
from support_faults import greeting, leftovers, wait_until_listening

pytestmark = pytest.mark.lab


@pytest.mark.parametrize(
    "fault",
    [
        ["loss", "--percent", "30"],
        pytest.param(["partition"], marks=pytest.mark.faults),
        pytest.param(["reset"], marks=pytest.mark.faults),
        ["rate", "--kbit", "64"],
    ],
    ids=lambda f: f[0],
)
def test_a_timed_network_fault_is_applied_and_undone(fault, foreign, socklab_command, docker_client, tools, session_id):
    code, out, err = socklab_command("fault", *fault, "--container", foreign.name, "--for", "1").finish()
    assert code == 0, err
    applied, undone = out.splitlines()
    assert applied.startswith(f"applied {fault[0]} {foreign.name}") and "sidecar in the target's network" in applied
    assert undone.startswith(f"undone {fault[0]} {foreign.name}") and "(its time ran out)" in undone
    assert "verified back to its state before" in undone
    assert leftovers(docker_client, foreign, tools, session_id) == []
    assert greeting(foreign) == b"hi\n"


def test_reset_refuses_connections_until_ctrl_c(foreign, socklab_command):
    command = socklab_command("fault", "reset", "--container", foreign.name, "--json")
    applied = json.loads(command.line())
    assert applied["event"] == "applied" and "tcp-reset" in applied["mechanism"]
    with pytest.raises(ConnectionRefusedError):
        greeting(foreign)
    command.process.send_signal(signal.SIGINT)
    code, out, err = command.finish()
    assert code == 0 and out, f"exit {code}, said: {out!r}\n{err[-2000:]}"
    undone = json.loads(out)
    assert undone["event"] == "undone" and undone["verified"] is True
    assert undone["undone_because"] == "the holder asked"
    assert greeting(foreign) == b"hi\n"


def test_partition_is_silence_then_the_service_is_back(foreign, socklab_command):
    command = socklab_command("fault", "partition", "--container", foreign.name)
    assert command.line().startswith("applied partition")
    with pytest.raises(TimeoutError):
        greeting(foreign, timeout=1)
    command.process.send_signal(signal.SIGTERM)
    code, out, _ = command.finish()
    assert code == 0 and out.startswith("undone partition")
    assert greeting(foreign) == b"hi\n"


def test_pause_freezes_the_service_and_unpause_brings_it_back(foreign, socklab_command):
    command = socklab_command("fault", "pause", "--container", foreign.name)
    assert command.line().startswith("applied pause")
    with pytest.raises(TimeoutError):  # the kernel completes the handshake; nobody calls accept()
        greeting(foreign, timeout=1)
    command.process.send_signal(signal.SIGINT)
    code, out, _ = command.finish()
    assert code == 0 and "verified" in out
    assert greeting(foreign) == b"hi\n"


@pytest.mark.parametrize(
    "fault",
    [
        "kill",
        pytest.param("stop", marks=pytest.mark.faults),
        pytest.param("restart", marks=pytest.mark.faults),
        "disconnect",
    ],
)
def test_a_process_fault_ends_with_the_container_serving_again(fault, foreign, socklab_command):
    grace = ["--grace", "1"] if fault in ("stop", "restart") else []
    command = socklab_command("fault", fault, "--container", foreign.name, "--for", "1", *grace)
    assert command.line().startswith(f"applied {fault} {foreign.name}")
    foreign.reload()
    if fault == "disconnect":
        assert foreign.attrs["NetworkSettings"]["Networks"] == {}  # off its only network
    elif fault != "restart":
        assert foreign.status == "exited"
    code, out, err = command.finish()
    assert code == 0, err
    assert out.startswith(f"undone {fault}") and "verified back" in out
    foreign.reload()
    assert foreign.status == "running"

    wait_until_listening(foreign)


# One of the two runs, and the other says it was skipped: a kernel with netem and one without are two cases.
def test_latency_with_netem_delays_the_answer(foreign, socklab_command, docker_client):
    if not netem_support(docker_client).available:
        pytest.skip("this kernel has no netem: see test_latency_without_netem_points_to_the_proxy")
    started = time.monotonic()
    greeting(foreign)
    before = time.monotonic() - started
    command = socklab_command("fault", "latency", "--container", foreign.name, "--ms", "200")
    assert "netem delay 200 ms" in command.line()
    started = time.monotonic()
    assert greeting(foreign, timeout=5) == b"hi\n"
    during = time.monotonic() - started
    assert during - before >= 0.2, f"{during:.3f} s under 200 ms of netem delay, {before:.3f} s without"
    command.process.send_signal(signal.SIGINT)
    code, out, err = command.finish()
    assert code == 0 and "verified" in out, err


def test_latency_without_netem_points_to_the_proxy(foreign, socklab_command, docker_client):
    if netem_support(docker_client).available:
        pytest.skip("this kernel has netem: see test_latency_with_netem_delays_the_answer")
    code, out, err = socklab_command(
        "fault", "latency", "--container", foreign.name, "--ms", "50", "--for", "1"
    ).finish()
    assert code == 1 and out == ""
    assert "this kernel has no netem" in err and "impairment proxy" in err
    assert greeting(foreign) == b"hi\n"  # nothing was left in its namespace on the way out


def test_a_container_that_is_not_there_is_one_clear_line(socklab_command):
    code, out, err = socklab_command(
        "fault", "loss", "--container", "socklab-no-such-container", "--percent", "5"
    ).finish()
    assert code != 0 and out == ""
    assert "socklab-no-such-container" in err and "Traceback" not in err


def test_bad_input_is_a_usage_error(socklab_command, foreign):
    code, _, err = socklab_command("fault", "loss", "--container", foreign.name, "--percent", "150").finish()
    assert code == 2 and "percent" in err
