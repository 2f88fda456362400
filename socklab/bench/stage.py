"""Where the benchmark runs: one labelled network with a fixed subnet, a server container per step,
loader containers at fixed addresses.

Fixed addresses matter here: the host tracks every TCP connection between containers (conntrack, 262,144
entries, each kept 120 s after close), and tens of thousands of connections a second from ever-new
addresses would fill it; the same loader and server addresses reuse the same entries.
"""

from __future__ import annotations

import contextlib
import ipaddress
import random
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container
from docker.types import IPAMConfig, IPAMPool

from socklab.bench.kernel import Cgroup
from socklab.lab.labels import new_run_id, remove_run, run_labels
from socklab.load.c_loader import LoadPlan, LoadResult, on_network, run_loaders

PORT = 9736
SERVER_HOST = 2  # the server is .2 on the bench network, loaders from .10 up
FIRST_LOADER_HOST = 10
SERVER_MEMORY = "4g"  # a fork server with thousands of children must hit this, not the shared host
SERVER_PIDS = 30_000
# Queues large enough that the backlog is not what is measured (the lesson's backlog 5 is bench/README's).
SERVER_SYSCTLS = {"net.core.somaxconn": "65535", "net.ipv4.tcp_max_syn_backlog": "65535"}
BACKLOG = 65535


class ServerDidNotStart(RuntimeError):
    """The server container exited or did not accept a connection in time; the message has its log."""


@dataclass
class ServerRun:
    version: str
    container: Container
    address: str
    pid: int
    cgroup: Cgroup
    env: dict[str, str]

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(docker.errors.NotFound):
            return str(self.container.logs(tail=lines).decode(errors="replace")).strip()
        return "(container gone)"

    def state(self) -> dict[str, Any]:
        with contextlib.suppress(docker.errors.NotFound):
            self.container.reload()
            return dict(self.container.attrs["State"])
        return {}


class Stage:
    """``with Stage(image_prefix) as stage: with stage.server("c-epoll", delay=0) as s: stage.load(...)``."""

    def __init__(self, image_prefix: str = "socklab", run_id: str | None = None, *, session: str = "") -> None:
        self.image_prefix = image_prefix
        self.session = session  # a test session's tags: PREFIX/server:SESSION-VERSION
        self.run_id = run_id or new_run_id()
        self.labels = run_labels(self.run_id, "bench")
        self.client = docker.from_env(timeout=180)  # dockerd answers slowly under 100,000 connections
        self.network_name = f"socklab-bench-{self.run_id}"
        self.subnet: ipaddress.IPv4Network | None = None

    def __enter__(self) -> Stage:
        self._create_network()
        return self

    def __exit__(self, *_exc: object) -> None:
        remove_run(self.client, self.run_id, images=False)
        self.client.close()

    def _create_network(self) -> None:
        """A /24 no other network uses: try a few random ones (dockerd refuses overlapping pools)."""
        for _ in range(20):
            subnet = ipaddress.IPv4Network(f"10.{random.randint(160, 250)}.{random.randint(0, 255)}.0/24")
            ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=str(subnet))])
            try:
                self.client.networks.create(self.network_name, driver="bridge", ipam=ipam, labels=self.labels)
            except docker.errors.APIError as exc:
                if "overlap" in str(exc).lower():
                    continue
                raise
            self.subnet = subnet
            return
        raise RuntimeError("no free /24 for the bench network in 10.160-250.x.0")

    def host(self, number: int) -> str:
        assert self.subnet is not None
        return str(self.subnet.network_address + number)

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
        environment = {"SOCKLAB_DELAY": f"{delay:g}", "SOCKLAB_BACKLOG": str(BACKLOG), **(env or {})}
        address = self.host(SERVER_HOST)
        container = self.client.containers.create(
            self.image(version),
            name=f"socklab-bench-{self.run_id}-{version}",
            environment=environment,
            labels=self.labels,
            sysctls=SERVER_SYSCTLS,
            mem_limit=SERVER_MEMORY,
            pids_limit=SERVER_PIDS,
            **on_network(self.client, self.network_name, address),
        )
        try:
            container.start()
            container.reload()
            run = ServerRun(version, container, address, int(container.attrs["State"]["Pid"]), None, environment)  # type: ignore[arg-type]
            self._wait_accepting(run)
            run.cgroup = Cgroup.of_pid(run.pid)
            yield run
        finally:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)

    def _wait_accepting(self, run: ServerRun, timeout: float = 30.0) -> None:
        """Ready = a TCP connection completes (as socklab.lab.readiness); the probe closes at once."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((run.address, PORT), timeout=1.0):
                    return
            except OSError:
                if run.state().get("Status") == "exited":
                    break
                time.sleep(0.02)  # a connection attempt a few times per start; nothing to wait on instead
        raise ServerDidNotStart(f"{run.version} did not accept on {run.address}:{PORT}:\n{run.log_tail()}")

    def load(self, server: ServerRun, plans: list[LoadPlan]) -> list[LoadResult]:
        return run_loaders(
            self.client,
            image=self.loader_image,
            network=self.network_name,
            server=server.address,
            plans=plans,
            labels=self.labels,
            name_prefix=f"socklab-bench-{self.run_id}",
            port=PORT,
            addresses=[self.host(FIRST_LOADER_HOST + k) for k in range(len(plans))],
        )
