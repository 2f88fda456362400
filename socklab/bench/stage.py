"""The benchmark's view of an empty ``Lab``: a server container per step and loader containers, each at a
fixed address on the lab's own /24.

Fixed addresses matter here: the host tracks every TCP connection between containers (conntrack, 262,144
entries, each kept 120 s after close), and tens of thousands of connections a second from ever-new
addresses would fill it; the same loader and server addresses reuse the same entries.
Running the containers (labels, readiness, cleanup, the reaper) is the ``Lab``'s job; what is the bench's
own is here: the addresses, the limits and sysctls of a measurement, the server's cgroup and process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import docker
import docker.errors

from socklab.bench.kernel import Cgroup
from socklab.lab.containers import LabContainer
from socklab.lab.lab import PORT, Lab
from socklab.lab.labels import new_run_id
from socklab.lab.layer import OnLab
from socklab.lab.readiness import ServerExited
from socklab.lab.topology import LOCKED_DOWN, Node
from socklab.load.c_loader import LoadPlan, LoadResult, run_loaders
from socklab.wire.config import ServerConfig

SERVER_HOST = 2  # the server is .2 on the bench network, loaders from .10 up
FIRST_LOADER_HOST = 10
# The lab's locked-down runtime, but its 512m / 1,024 pids would cut the held-clients figures short: a fork
# server with thousands of children must hit limits of its own size here, and never the shared host's.
SERVER_HARDENING = replace(LOCKED_DOWN, mem_limit="4g", pids_limit=30_000)
# Queues large enough that the backlog is not what is measured (the lesson's backlog 5 is bench/README's).
SERVER_SYSCTLS = {"net.core.somaxconn": "65535", "net.ipv4.tcp_max_syn_backlog": "65535"}
BACKLOG = 65535
DOCKER_TIMEOUT = 180  # seconds: dockerd answers slowly under 100,000 connections


class ServerDidNotStart(RuntimeError):
    """The server container exited or did not accept a connection in time; the message has its log."""


@dataclass
class ServerRun:
    version: str
    container: LabContainer
    address: str
    pid: int  # its init process on the host: the way to its cgroup and its network namespace's counters
    cgroup: Cgroup
    env: dict[str, str]

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(docker.errors.NotFound):
            return str(self.container.sdk.logs(tail=lines).decode(errors="replace")).strip()
        return "(container gone)"

    def state(self) -> dict[str, Any]:
        with contextlib.suppress(docker.errors.NotFound):
            self.container.sdk.reload()
            return dict(self.container.sdk.attrs["State"])
        return {}


class Stage(OnLab):
    """``with Stage(image_prefix) as stage: with stage.server("c-epoll", delay=0) as s: stage.load(...)``."""

    def __init__(self, image_prefix: str = "socklab", run_id: str | None = None, *, session: str = "") -> None:
        self.image_prefix = image_prefix
        self.session = session  # a test session's tags: PREFIX/server:SESSION-VERSION
        super().__init__(
            Lab(
                server_image=None,
                run_id=run_id or new_run_id(),
                purpose="bench",
                subnet="auto",
                docker_timeout=DOCKER_TIMEOUT,
            )
        )

    def _tag(self, repository: str, name: str) -> str:
        return (
            f"{self.image_prefix}/{repository}:{self.session}-{name}"
            if self.session
            else f"{self.image_prefix}/{repository}:{name}"
        )

    def image(self, version: str) -> str:
        return self._tag("server", version)

    @property
    def loader_image(self) -> str:
        return self._tag("loadgen", "c")

    @contextlib.contextmanager
    def server(self, version: str, *, delay: float, env: dict[str, str] | None = None) -> Iterator[ServerRun]:
        """A fresh server at the fixed server address, once it accepts a connection; removed after."""
        environment = {**ServerConfig(delay=delay, backlog=BACKLOG).to_env(), **(env or {})}
        address = self.lab.host_address(SERVER_HOST)
        node = Node(
            self.lab.new_role(f"server-{version}"),
            self.image(version),
            environment,
            ipv4_address=address,
            hardening=SERVER_HARDENING,
            extra={"sysctls": SERVER_SYSCTLS},
        )
        try:
            try:
                container = self.lab.add(node, wait=self.lab.accepting(PORT))
            except (ServerExited, TimeoutError) as exc:
                log = self.lab.container(node.role).logs().strip()[-2000:]
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise ServerDidNotStart(f"{version} did not accept on {address}:{PORT} ({first}):\n{log}") from exc
            container.sdk.reload()
            pid = int(container.sdk.attrs["State"]["Pid"])
            yield ServerRun(version, container, address, pid, Cgroup.of_pid(pid), environment)
        finally:
            # Also a server that did not start: it holds the fixed address the next step needs.
            if (started := self.lab.containers.get(node.role)) is not None:
                self.lab.remove(started)

    def load(self, server: ServerRun, plans: list[LoadPlan], start_at: float | None = None) -> list[LoadResult]:
        return run_loaders(
            self.lab,
            image=self.loader_image,
            server=server.address,
            plans=plans,
            port=PORT,
            addresses=[self.lab.host_address(FIRST_LOADER_HOST + k) for k in range(len(plans))],
            start_at=start_at,
        )
