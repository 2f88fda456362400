"""Running the fault agent in a sidecar: a container of the tools image in a target's network namespace.

The sidecar gets ``NET_ADMIN`` and nothing else, joins the target's namespace (``network_mode:
container:<id>``), removes itself when it exits, and holds the fault on its own. Its stdin is attached
(with ``StdinOnce``): writing ``undo`` ends the fault; when the process that attached dies, dockerd closes
that stdin and an untimed fault ends too. Its stdout (one ``sidecar.protocol`` event a line) is read as it
comes; the spec it is given is a ``sidecar.protocol`` spec, validated before the container is made.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
from typing import Any

import docker
import docker.errors

from sidecar.protocol import Event, FaultSpec, ProtocolError, Spec, parse_event
from socklab.faults.tools import AGENT_HOME, SBIN_PATH, package_archive
from socklab.lab.labels import run_labels

FAULT = "io.socklab.fault"  # label: the fault kind a sidecar holds
FAULT_TARGET = "io.socklab.fault.target"  # label: the id of the container whose namespace it is in


class AgentFailed(RuntimeError):
    """The agent said ``failed`` or exited without saying what happened."""


class Sidecar:
    """One agent run: ``start()``, then ``next_event()`` as it reports, ``send("undo")``, ``close()``."""

    def __init__(
        self,
        client: docker.DockerClient,
        *,
        image: str,
        spec: Spec,
        run_id: str,
        target_id: str | None,
        name: str,
    ) -> None:
        self.client = client
        self.spec = spec
        self.name = name
        labels = {**run_labels(run_id, "fault"), FAULT: spec.kind if isinstance(spec, FaultSpec) else spec.tag}
        if target_id:
            labels[FAULT_TARGET] = target_id
        host_config = client.api.create_host_config(
            network_mode=f"container:{target_id}" if target_id else "none",
            cap_add=["NET_ADMIN"],
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            auto_remove=True,
        )
        config = client.api.create_container_config(
            image,
            ["python3", "-m", "sidecar", spec.to_json()],
            user="0",  # iptables and tc need uid 0 as well as the capability
            working_dir=AGENT_HOME,
            environment={"PATH": SBIN_PATH, "PYTHONPATH": AGENT_HOME, "PYTHONDONTWRITEBYTECODE": "1"},
            labels=labels,
            stdin_open=True,
            host_config=host_config,
        )
        config["StdinOnce"] = True  # the docker SDK has no keyword for it: stdin closes when we go
        self._config = config
        self.id: str | None = None
        self._stdin: Any = None
        self._events: queue.Queue[Event | str | None] = queue.Queue()  # str: a line that is no event

    def start(self) -> None:
        self.id = self.client.api.create_container_from_config(self._config, name=self.name)["Id"]
        try:
            self.client.api.put_archive(self.id, "/", package_archive("sidecar"))
            self._stdin = self.client.api.attach_socket(self.id, params={"stdin": 1, "stream": 1})
            self.client.api.start(self.id)
        except BaseException:
            with contextlib.suppress(docker.errors.APIError):
                self.client.api.remove_container(self.id, force=True)
            raise
        threading.Thread(target=self._read, name=f"{self.name}-events", daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        try:
            for chunk in self.client.api.logs(self.id, stream=True, follow=True, stdout=True, stderr=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    text = line.decode(errors="replace")
                    try:
                        self._events.put(parse_event(text))
                    except ProtocolError as exc:  # a traceback, or an agent of another version: kept as noise
                        self._events.put(f"{text} ({exc})" if text.startswith("{") else text)
        except docker.errors.APIError:
            pass
        finally:
            self._events.put(None)  # the agent is gone

    def next_event(self, timeout: float) -> Event:
        """The agent's next event (other lines skipped); AgentFailed when it ends or stays silent."""
        noise: list[str] = []
        while True:
            try:
                event = self._events.get(timeout=timeout)
            except queue.Empty:
                raise AgentFailed(f"sidecar {self.name} said nothing for {timeout:g} s") from None
            if event is None:
                raise AgentFailed(f"sidecar {self.name} exited without a result: {' | '.join(noise)[-1500:]}")
            if isinstance(event, str):
                noise.append(event)
                continue
            return event

    def send(self, word: str) -> None:
        if self._stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                _raw(self._stdin).sendall(f"{word}\n".encode())

    def close(self) -> None:
        """Let go of the agent (it exits and is removed by dockerd); wait until it is gone."""
        self.send("bye")
        if self._stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                raw = _raw(self._stdin)
                raw.shutdown(socket.SHUT_RDWR)  # EOF on the agent's stdin now, whoever else holds the fd
                raw.close()
            self._stdin = None
        if self.id is not None:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                self.client.api.wait(self.id, timeout=30, condition="removed")


def _raw(stream: Any) -> socket.socket:
    """The socket under the SDK's attach stream (a ``SocketIO`` over the engine's unix socket)."""
    return stream if isinstance(stream, socket.socket) else stream._sock


def run_agent(
    client: docker.DockerClient,
    *,
    image: str,
    spec: Spec,
    run_id: str,
    target_id: str | None,
    name: str,
    timeout: float = 60,
) -> Event:
    """Run a one-shot agent task (probe, clean, wait) and return its one result event."""
    sidecar = Sidecar(client, image=image, spec=spec, run_id=run_id, target_id=target_id, name=name)
    sidecar.start()
    try:
        return sidecar.next_event(timeout)
    finally:
        sidecar.close()
