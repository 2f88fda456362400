"""Helpers for the fault tests: a foreign listener, the ``socklab`` command as a child process, and
looking into a container's namespace for what a fault may have left."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import docker
from docker.models.containers import Container

from socklab.lab.lab import foreign_lab
from socklab.lab.sidecar import FAULT, FAULT_TARGET, run_agent
from socklab.paths import ROOT
from socklab.sidecar.protocol import Clean, Cleaned

FOREIGN_PORT = 7000
# A listener that is not ours: it says "hi" to whoever connects.
LISTENER = """
import socket
server = socket.create_server(("0.0.0.0", 7000))
print("listening", flush=True)
while True:
    conn, _ = server.accept()
    conn.sendall(b"hi\\n")
    conn.close()
"""


def address(container: Container) -> str:
    container.reload()
    return next(iter(container.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]


def wait_until_listening(container: Container, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if greeting(container, timeout=1) == b"hi\n":
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{container.name} does not answer on {FOREIGN_PORT}")


def greeting(container: Container, timeout: float = 2) -> bytes:
    with socket.create_connection((address(container), FOREIGN_PORT), timeout=timeout) as conn:
        return conn.recv(16)


class Command:
    """``socklab ARGS`` as a child process; lines of its stdout as they come."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "socklab", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def line(self) -> str:
        """The next line of its stdout ('' when it has exited)."""
        assert self.process.stdout is not None
        return self.process.stdout.readline()

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, out, err


def sidecars_in(client: docker.DockerClient, container: Container) -> list[Container]:
    return client.containers.list(all=True, filters={"label": [FAULT, f"{FAULT_TARGET}={container.id}"]})


def wait_until_no_sidecar(client: docker.DockerClient, container: Container, timeout: float) -> float:
    """Wait until no fault sidecar is in ``container``'s namespace (on their ``destroy`` events); return when
    (monotonic)."""
    now = time.time()
    events = client.events(
        decode=True,
        since=f"{now:.9f}",
        until=int(now + timeout) + 1,
        filters={"type": "container", "event": "destroy", "label": f"{FAULT_TARGET}={container.id}"},
    )
    try:
        while sidecars_in(client, container):  # subscribed first: no destroy can slip between list and wait
            if next(events, None) is None:  # the stream ends at `until`
                raise TimeoutError(f"a fault sidecar is still in {container.name} after {timeout:g} s")
    finally:
        events.close()
    return time.monotonic()


def leftovers(client: docker.DockerClient, container: Container, tools: str, session_id: str) -> list[str]:
    """What the leftover sweep would remove from ``container``'s namespace (it removes it, too)."""
    with foreign_lab("test") as lab:
        event = run_agent(lab, lab.adopt(container), Clean(), image=tools)
    assert isinstance(event, Cleaned), event
    return list(event.commands)
