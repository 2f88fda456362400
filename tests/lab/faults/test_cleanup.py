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
