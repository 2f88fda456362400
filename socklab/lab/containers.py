"""One container of a lab: testcontainers starts it and waits for it; the docker SDK object does the rest.

This is the one place that holds both: everything else asks a ``LabContainer`` for its address, its
logs, its exit code, or the SDK container itself (``.sdk``), and never reaches into testcontainers'
private attributes.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors
import requests
from docker.models.containers import Container
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network
from testcontainers.core.waiting_utils import WaitStrategy

from socklab.errors import require_image
from socklab.lab.readiness import wait_for_log
from socklab.lab.topology import Node


class LabContainer:
    """A container built from a ``Node``: ``start()``, then ask it things; ``remove()`` is idempotent.

    ``LabContainer.adopted(container)`` wraps a running container the lab did not make (a fault's or a
    capture's target): sidecars can join its namespace, and ``remove()`` never touches it.
    """

    def __init__(
        self,
        node: Node,
        *,
        name: str,
        network: Network | None,
        labels: dict[str, str],
        volumes: dict[str, str],
        joins: LabContainer | None = None,
        docker_timeout: int | None = None,
    ) -> None:
        """``joins``: the started container named by ``node.shares_network_with``; ``docker_timeout``:
        seconds its calls to dockerd may take (the docker SDK's default when None)."""
        if (joins is None) != (node.shares_network_with is None):
            raise ValueError(f"{node.role}: give the container whose network it shares, and only then")
        self.node = node
        self.name = name
        # Its own network's name; None when it has none (no network, or another container's namespace).
        self.network = network.name if network is not None and node.network is not None and joins is None else None
        if node.network is not None and joins is None and network is None:
            raise ValueError(f"{node.role}: this lab has no network of its own to put it on")
        self._network = network
        self._joins = joins
        self._labels = labels
        self._volumes = volumes  # docker volume name -> mount path
        self._client_kw = {} if docker_timeout is None else {"timeout": docker_timeout}
        self._sdk: Container | None = None
        self._started: DockerContainer | None = None  # testcontainers' handle: a target for wait strategies
        self.owned = True  # False: adopted, not ours to remove

    @classmethod
    def adopted(cls, container: Container, role: str) -> LabContainer:
        """A running container the lab did not make, under ``role``: a target for sidecars, never removed."""
        node = Node(role, str(container.attrs["Config"]["Image"]), network=None)
        adopted = cls(node, name=container.name or container.id, network=None, labels={}, volumes={})
        adopted._sdk = container
        adopted.owned = False
        return adopted

    def start(
        self,
        client: docker.DockerClient,
        wait: WaitStrategy | None = None,
        *,
        on_start: Callable[[LabContainer], None] | None = None,
    ) -> LabContainer:
        """Create and start it on its network under its aliases; call ``on_start`` (it runs, nothing has been
        waited for yet: the kernel observer joins it there); then wait with ``wait`` if given."""
        require_image(client, self.node.image)  # else the SDK would try to pull from a registry
        kwargs = {
            **self.node.hardening.docker_kwargs(),
            **self.node.extra,
            "labels": {**self.node.labels, **self._labels},
        }
        tmpfs = kwargs.pop("tmpfs", {})
        container = (
            DockerContainer(self.node.image, docker_client_kw=self._client_kw)
            .with_name(self.name)
            .with_envs(**self.node.env)
        )
        # testcontainers passes `network=` itself once with_network is used, which Docker refuses beside a
        # network_mode: so a container without a network of its own never calls it.
        if self._joins is not None:
            kwargs["network_mode"] = f"container:{self._joins.sdk.id}"
        elif self._network is None or self.network is None:
            kwargs["network_mode"] = "none"
        else:
            container.with_network(self._network)
        if self.node.aliases:
            container.with_network_aliases(*self.node.aliases)
        if self.node.command is not None:
            container.with_command(list(self.node.command))
        if self.node.ipv4_address is not None:
            endpoint = client.api.create_endpoint_config(
                aliases=list(self.node.aliases) or None, ipv4_address=self.node.ipv4_address
            )
            kwargs["networking_config"] = {self.network: endpoint}
        container.with_kwargs(**kwargs)  # once: each call replaces the keywords of the one before
        for path, size in tmpfs.items():
            if path in self._volumes.values():
                continue  # a shared volume (e.g. a Unix socket's folder) takes the place of the tmpfs
            # testcontainers hands the value to Docker as the mount options, so it is "size=…"
            container.with_tmpfs_mount(path, f"size={size}" if size else None)
        for volume, path in self._volumes.items():
            container.with_volume_mapping(volume, path, mode="rw")
        for source, folder in self.node.copies.items():
            container.with_copy_into_container(Path(source), folder)  # between create and start
        self._started = container
        try:
            container.start()
        finally:
            # Even when a later step fails, the container exists: keep hold of it so remove() finds it.
            with contextlib.suppress(Exception):
                self._sdk = container.get_wrapped_container()
        if on_start is not None:
            on_start(self)
        if wait is not None:
            try:
                wait.wait_until_ready(container)
            except TimeoutError as exc:  # as testcontainers' own start() says it: with the container's output
                exc.add_note(self.logs())
                raise
        return self

    @property
    def sdk(self) -> Container:
        """The docker SDK's container object (started)."""
        if self._sdk is None:
            raise RuntimeError(f"{self.name} has not been started")
        return self._sdk

    @property
    def started(self) -> bool:
        return self._sdk is not None

    def address(self, network: str | None = None) -> str:
        """Its IP address on ``network`` (default: its own lab network)."""
        network = network or self.network
        if network is None:
            raise ValueError(f"{self.name} has no network of its own")
        self.sdk.reload()
        return str(self.sdk.attrs["NetworkSettings"]["Networks"][network]["IPAddress"])

    def status(self) -> str:
        self.sdk.reload()
        return str(self.sdk.status)

    def logs(self) -> str:
        return bytes(self.sdk.logs(stdout=True, stderr=True)).decode(errors="replace")

    def logs_with_timestamps(self) -> str:
        """Its output with the engine's RFC 3339 stamp on every line (for placing events in time)."""
        return bytes(self.sdk.logs(stdout=True, stderr=True, timestamps=True)).decode(errors="replace")

    def wait_for_log(self, pattern: str, timeout: float, *, literal: bool = False) -> None:
        """Wait until its output matches ``pattern`` (a regex, or ``literal`` text); fail if it exits first."""
        if self._started is None:
            raise RuntimeError(f"{self.name} has not been started")
        wait_for_log(self._started, re.escape(pattern) if literal else pattern, timeout)

    def stdout_and_stderr(self) -> tuple[str, str]:
        out = bytes(self.sdk.logs(stdout=True, stderr=False)).decode(errors="replace")
        err = bytes(self.sdk.logs(stdout=False, stderr=True)).decode(errors="replace")
        return out, err

    def exec(self, command: list[str], *, user: str = "") -> tuple[int, str]:
        """``docker exec``: the command's exit code and its output (stdout and stderr together)."""
        result = self.sdk.exec_run(command, user=user, demux=False)
        return int(result.exit_code), bytes(result.output or b"").decode(errors="replace")

    def attach_stdin(self) -> socket.socket:
        """Its stdin as a socket (a ``Node`` with ``extra={"stdin_open": True}``).

        testcontainers creates it attached, so Docker marks that stdin ``StdinOnce``: when this socket
        closes (this process ends, SIGKILL included), the container reads EOF.
        """
        stream = self.sdk.attach_socket(params={"stdin": 1, "stream": 1})
        return stream if isinstance(stream, socket.socket) else stream._sock  # a SocketIO over the engine's socket

    def wait(self, timeout: float) -> int:
        """Its exit code; -1 after killing it when it does not exit within ``timeout``."""
        try:
            return int(self.sdk.wait(timeout=timeout)["StatusCode"])
        except requests.exceptions.RequestException:  # the SDK's read timeout
            with contextlib.suppress(docker.errors.APIError):
                self.sdk.kill()
            return -1

    def stop(self, timeout: float = 10) -> int:
        """``docker stop`` (SIGTERM, SIGKILL after ``timeout``); its exit code."""
        self.sdk.stop(timeout=int(timeout))
        self.sdk.reload()
        return int(self.sdk.attrs["State"]["ExitCode"])

    def signal(self, name: str) -> None:
        self.sdk.kill(signal=name)

    def remove(self) -> None:
        """Remove it (forcefully) if it exists and is ours; safe to call twice."""
        if self._sdk is not None and self.owned:
            with contextlib.suppress(docker.errors.NotFound):
                self._sdk.remove(force=True, v=True)
