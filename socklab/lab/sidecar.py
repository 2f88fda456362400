"""Tools sidecars: a container of the tools image in another container's network namespace, run by a Lab.

Our images carry no tools and no capabilities (they are the lab's hosts); a foreign container need not
have them either. So whatever looks into or shapes a container's network (ss, tc, iptables, tcpdump, the
fault agent) runs in a sidecar that joins the target's namespace (``network_mode: container:<id>``), as a
container of a ``Lab``: labelled, removed with it. Three shapes of it, one way:

- ``run_in_namespace``: one command, to its end, its output (a backlog's ``tc``, ``ss``, a wait);
- ``beside``: the node of a long-running one the caller ends (tcpdump, ``socklab.capture.tcpdump``);
- ``Agent``: the fault agent (``agents/sidecar/``, stdlib only; its wait for connections reads them with the
  observer's netlink sampler, ``agents/observer``, copied in beside it), copied in before it starts rather than baked
  into an image (nothing more to build, never a stale copy; any image with python3, iproute2, iptables
  and pyroute2 serves: ``SOCKLAB_TOOLS_IMAGE``). It is given one ``sidecar.protocol`` spec, validated before
  the container is made, reports one ``sidecar.protocol`` event a line on stdout and reads ``undo`` on its
  attached stdin, which is ``StdinOnce``: when the process that attached dies, dockerd
  closes it and an untimed fault ends. It removes itself when it exits.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import docker
import docker.errors
import requests

from socklab.images import TOOLS_TAG, ImageBuildError, ensure_image
from socklab.lab.containers import LabContainer
from socklab.lab.lab import Lab
from socklab.lab.topology import Hardening, Node
from socklab.paths import ROOT
from socklab.progress import Progress, quiet
from socklab.sidecar.protocol import Event, FaultSpec, ProtocolError, Spec, parse_event
from socklab.wire.knobs import env_name

AGENT_HOME = "/opt/socklab"  # where the agent package goes inside a sidecar (PYTHONPATH)
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
FAULT = "io.socklab.fault"  # label: the fault kind an agent holds
FAULT_TARGET = "io.socklab.fault.target"  # label: the id of the container whose namespace it is in
# Root with these two: enough for tcpdump, tc and iptables in the target's namespace, and no more.
NETWORK_TOOLS = {"cap_add": ["NET_ADMIN", "NET_RAW"], "user": "0"}
# The agent: NET_ADMIN and nothing else (iptables and tc need uid 0 as well as the capability).
AGENT_HARDENING = Hardening(read_only=False, pids_limit=None, mem_limit=None)
AGENT_EXTRA = {
    "cap_add": ["NET_ADMIN"],
    "user": "0",
    "working_dir": AGENT_HOME,
    "auto_remove": True,
    "stdin_open": True,
}


class ToolsUnavailable(RuntimeError):
    """No tools image, and it cannot be built here."""


class SidecarFailed(RuntimeError):
    """A sidecar's command failed; the message carries its output."""


class AgentFailed(RuntimeError):
    """The agent said ``failed`` or exited without saying what happened."""


def tools_image(client: docker.DockerClient, progress: Progress = quiet) -> str:
    """The tools image's tag: ``SOCKLAB_TOOLS_IMAGE``, else ``socklab/tools:latest`` (built when missing)."""
    tag = os.environ.get(env_name("tools_image"), TOOLS_TAG)
    if tag != TOOLS_TAG:
        try:
            client.images.get(tag)
        except docker.errors.ImageNotFound:
            raise ToolsUnavailable(f"the tools image {tag} ({env_name('tools_image')}) does not exist") from None
        return tag
    try:
        return ensure_image(client, "tools", progress=progress)
    except ImageBuildError as exc:
        raise ToolsUnavailable(f"{TOOLS_TAG} is missing and cannot be built here: {exc}") from exc


def beside(
    lab: Lab,
    target: LabContainer,
    command: Sequence[str],
    *,
    image: str,
    role: str = "tools",
    extra: Mapping[str, Any] = NETWORK_TOOLS,
) -> Node:
    """A tools sidecar running ``command`` in ``target``'s network namespace."""
    return Node(
        lab.new_role(f"{role}-{target.node.role}"),
        image,
        command=tuple(command),
        shares_network_with=target.node.role,
        extra=extra,
    )


def run_in_namespace(lab: Lab, target: LabContainer, command: Sequence[str], *, image: str) -> str:
    """Run one command of the tools image in ``target``'s network namespace; its output, or SidecarFailed."""
    run = lab.run_once(beside(lab, target, command, image=image))
    output = run.stdout + run.stderr
    if run.exit_code != 0:
        raise SidecarFailed(f"{' '.join(command)} exited {run.exit_code}: {output[-1500:]}")
    return output


class Agent:
    """One agent run in ``target``'s namespace (None: a namespace of its own, touching nobody):
    ``start()``, then ``next_event()`` as it reports, ``send("undo")``, ``close()``."""

    def __init__(self, lab: Lab, target: LabContainer | None, spec: Spec, *, image: str) -> None:
        self.lab = lab
        self.spec = spec
        kind = spec.kind if isinstance(spec, FaultSpec) else spec.tag
        labels = {FAULT: kind} | ({FAULT_TARGET: target.sdk.id} if target is not None else {})
        self.node = Node(
            lab.new_role(f"fault-{kind}"),
            image,
            env={"PATH": SBIN_PATH, "PYTHONPATH": AGENT_HOME, "PYTHONDONTWRITEBYTECODE": "1"},
            command=("python3", "-m", "sidecar", spec.to_json()),
            network=None,
            shares_network_with=None if target is None else target.node.role,
            hardening=AGENT_HARDENING,
            extra=AGENT_EXTRA,
            labels=labels,
            # The observer package beside it: its socket sampler (netlink) is what wait-established reads.
            copies={str(ROOT / "agents" / "sidecar"): AGENT_HOME, str(ROOT / "agents" / "observer"): AGENT_HOME},
        )
        self.container: LabContainer | None = None
        self._stdin: socket.socket | None = None
        self._events: queue.Queue[Event | str | None] = queue.Queue()  # str: a line that is no event

    @property
    def name(self) -> str:
        return self.lab.topology.container_name(self.node.role)

    def start(self) -> None:
        self.container, self._stdin = self.lab.add_attached(self.node)
        threading.Thread(target=self._read, args=(self.container,), name=f"{self.name}-events", daemon=True).start()

    def _read(self, container: LabContainer) -> None:
        buffer = b""
        try:
            for chunk in container.sdk.logs(stream=True, follow=True, stdout=True, stderr=True):
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
                self._stdin.sendall(f"{word}\n".encode())

    def close(self) -> None:
        """Let go of the agent (it exits and removes itself); wait until it is gone."""
        self.send("bye")
        if self._stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                self._stdin.shutdown(socket.SHUT_RDWR)  # EOF on the agent's stdin now, whoever else holds the fd
                self._stdin.close()
            self._stdin = None
        if self.container is not None:
            # Not gone in time (its undo hung, or a read timeout): removed here by lab.remove, never left to
            # dockerd's auto-removal after the command has returned.
            with contextlib.suppress(docker.errors.APIError, requests.exceptions.RequestException):
                self.lab.docker.api.wait(self.container.sdk.id, timeout=30, condition="removed")
            self.lab.remove(self.container)  # forgets it (and removes it, were it still there)


def run_agent(lab: Lab, target: LabContainer | None, spec: Spec, *, image: str, timeout: float = 60) -> Event:
    """Run a one-shot agent task (probe, clean, wait) and return its one result event."""
    agent = Agent(lab, target, spec, image=image)
    agent.start()
    try:
        return agent.next_event(timeout)
    finally:
        agent.close()
