"""Interrupts, failures and SIGKILL of our own commands are faults too: nothing may be left behind."""

from __future__ import annotations

import re
import signal
import time

import pytest

from socklab.faults.cleanup import clean_faults
from socklab.lab.labels import RUN
from support_faults import greeting, leftovers, sidecars_in, wait_until_no_sidecar

pytestmark = pytest.mark.lab


def test_sigkill_of_a_timed_fault_the_rule_still_ends_on_time(
    foreign, socklab_command, docker_client, tools, session_id
):
    command = socklab_command("fault", "partition", "--container", foreign.name, "--for", "3")
    assert command.line().startswith("applied partition")
    applied = time.monotonic()
    command.process.kill()  # SIGKILL: no undo from the CLI, no Python cleanup at all
    command.process.wait()
    with pytest.raises(TimeoutError):
        greeting(foreign, timeout=1)  # the rule outlives the command that set it...
    gone = wait_until_no_sidecar(docker_client, foreign, timeout=30)
    assert gone - applied >= 2.9  # ...for as long as it was asked to hold, and no longer than needed
    assert leftovers(docker_client, foreign, tools, session_id) == []
    assert greeting(foreign) == b"hi\n"


def test_sigkill_of_an_untimed_fault_ends_it_at_once(foreign, socklab_command, docker_client, tools, session_id):
    command = socklab_command("fault", "loss", "--container", foreign.name, "--percent", "100")
    assert command.line().startswith("applied loss")
    command.process.kill()
    command.process.wait()
    wait_until_no_sidecar(docker_client, foreign, timeout=20)  # its stdin closed: the holder is gone
    assert leftovers(docker_client, foreign, tools, session_id) == []
    assert greeting(foreign) == b"hi\n"


@pytest.mark.parametrize("fault", ["pause", "disconnect"])
def test_sigkill_of_a_process_fault_it_is_still_undone_on_time(fault, foreign, socklab_command, docker_client):
    # No sidecar owns a pause or a disconnect: the reaper the command started undoes it when the command is gone.
    command = socklab_command("fault", fault, "--container", foreign.name, "--for", "3")
    assert command.line().startswith(f"applied {fault}")
    undone = {"pause": "unpause", "disconnect": "connect"}[fault]
    events = docker_client.events(
        decode=True, since=f"{time.time():.9f}", until=int(time.time() + 60), filters={"event": undone}
    )
    applied = time.monotonic()
    command.process.kill()
    command.process.wait()
    for event in events:  # bounded by `until`
        if foreign.id in (event.get("id"), event.get("Actor", {}).get("Attributes", {}).get("container")):
            break
    else:
        raise AssertionError(f"{foreign.name} was never brought back ({undone}) after the command died")
    events.close()
    assert time.monotonic() - applied >= 2.5, "undone on time, not before"
    assert greeting(foreign) == b"hi\n"


def test_clean_removes_a_sidecar_whose_command_died_and_its_rule(
    foreign, socklab_command, docker_client, tools, session_id
):
    command = socklab_command("fault", "reset", "--container", foreign.name, "--for", "600")
    assert command.line().startswith("applied reset")
    command.process.kill()
    command.process.wait()
    assert sidecars_in(docker_client, foreign), "a timed fault holds on after its command died"
    with pytest.raises(ConnectionRefusedError):
        greeting(foreign)
    done = clean_faults(docker_client, target=foreign.id)  # what `socklab clean` runs first
    assert any(line.startswith("stopped fault sidecar") for line in done)
    assert sidecars_in(docker_client, foreign) == []
    assert leftovers(docker_client, foreign, tools, session_id) == []
    assert greeting(foreign) == b"hi\n"


def test_clean_spares_a_fault_whose_command_is_alive(foreign, socklab_command, docker_client):
    command = socklab_command("fault", "partition", "--container", foreign.name)
    assert command.line().startswith("applied partition")
    assert clean_faults(docker_client, target=foreign.id) == []
    assert sidecars_in(docker_client, foreign)
    command.process.send_signal(signal.SIGINT)
    code, out, _ = command.finish()
    assert code == 0 and "verified" in out


def test_ctrl_c_in_the_middle_of_a_lab_run_leaves_nothing(socklab_command, lab_images, docker_client):
    command = socklab_command(
        "run", "--clients", "2", "--delay", "5",
        "--server-image", lab_images.servers["fork"], "--client-image", lab_images.client,
    )  # fmt: skip
    assert command.process.stderr is not None
    network = None
    for line in command.process.stderr:
        if match := re.search(r"network (socklab-(\w+));", line):
            network = match[1]
        if "released at once" in line:  # the clients are connected and waiting for their answers
            break
    assert network is not None, "the run never said which network it made"
    command.process.send_signal(signal.SIGINT)
    code, _, err = command.finish()
    assert code == 130, err
    run_id = network.removeprefix("socklab-")
    assert docker_client.networks.list(names=[network]) == []
    assert docker_client.containers.list(all=True, filters={"label": f"{RUN}={run_id}"}) == []
