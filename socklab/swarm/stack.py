"""The lab as a swarm stack: deploy ``stack.yaml``, wait for the client tasks, read their answers.

``docker stack deploy`` is a feature of the docker CLI (it reads the compose file; the engine API only knows
services), so deploying and removing call the CLI; everything else goes through the docker SDK. What
``stack.yaml`` leaves open (the number of clients, where tasks run) goes in a second compose file that the
CLI merges over the first: rendered here as JSON, which is YAML too.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests
from docker.models.services import Service

from socklab.analysis.verdict import Interval, Verdict, judge
from socklab.paths import ROOT
from socklab.wire.compose import ComposeVariables
from socklab.wire.config import ClientConfig, ServerConfig
from socklab.wire.result import ClientResult, parse_results

STACK_FILE = ROOT / "stack.yaml"
STACK_NAME = "socklab"
SERVER_SERVICE = f"{STACK_NAME}_server"
CLIENT_SERVICE = f"{STACK_NAME}_client"
NAMESPACE_LABEL = "com.docker.stack.namespace"  # the CLI labels a stack's services and networks with its name
SERVER_READY_LINE = "server waiting for a connection"
Task = dict[str, Any]  # a swarm task as the engine API returns it (``docker service ps``'s data)
TERMINAL_STATES = frozenset({"complete", "failed", "shutdown", "rejected", "orphaned", "remove"})
SETTLE = 60.0  # scheduling, starting a task and finding the server by DNS, on a busy 2-core machine


class StackError(RuntimeError):
    """``docker stack deploy``/``rm`` failed, or the clients did not finish in time."""


@dataclass(frozen=True)
class StackSettings:
    server_image: str
    client_image: str
    clients: int
    delay: float
    server_constraints: tuple[str, ...] = ()  # swarm placement constraints, e.g. "node.hostname==node1"
    client_constraints: tuple[str, ...] = ()
    spread_over: int = 1  # nodes the clients may use: at most ceil(clients / spread_over) per node
    connect_deadline: float = 30.0  # how long each client retries connecting (SOCKLAB_CONNECT_DEADLINE)

    def environment(self) -> dict[str, str]:
        """The knobs ``stack.yaml`` reads, as in compose.yaml."""
        return {
            **ComposeVariables(
                server_image=self.server_image, client_image=self.client_image, clients=self.clients
            ).to_env(),
            **ServerConfig(delay=self.delay).to_env(),
            **ClientConfig(connect_deadline=self.connect_deadline).to_env(),
        }

    def override(self) -> dict[str, object]:
        """The second compose file: replicas and placement, which stack.yaml leaves to the command."""

        def placement(constraints: Sequence[str], per_node: int | None = None) -> dict[str, object]:
            found: dict[str, object] = {"constraints": list(constraints)} if constraints else {}
            if per_node is not None:
                found["max_replicas_per_node"] = per_node
            return found

        per_node = math.ceil(self.clients / self.spread_over) if self.spread_over > 1 else None
        services: dict[str, object] = {
            "client": {"deploy": {"replicas": self.clients, "placement": placement(self.client_constraints, per_node)}},
        }
        if self.server_constraints:
            services["server"] = {"deploy": {"placement": placement(self.server_constraints)}}
        return {"version": "3.8", "services": services}


@dataclass(frozen=True)
class ClientRow:
    """One client task: where it ran, what it printed."""

    node: str
    task: str
    state: str
    result: ClientResult | None  # the client's --json line, if it printed one
    error: str = ""  # the task's error (e.g. "No such image") when it printed nothing

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.ok

    @property
    def interval(self) -> Interval | None:
        r = self.result
        if r is None or not r.ok or r.connected_at is None or r.answered_at is None:
            return None
        return Interval(r.host, r.connected_at, r.answered_at)


@dataclass(frozen=True)
class StackRun:
    rows: tuple[ClientRow, ...]
    verdict: Verdict
    seconds: float  # from `docker stack deploy` to the last client task finished
    server_log: str


def _cli(docker_host: str | None, args: list[str], *, env: Mapping[str, str] | None = None) -> str:
    command = ["docker", *(["--host", docker_host] if docker_host else []), *args]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"{' '.join(command)}: {exc}") from exc
    if done.returncode != 0:
        raise StackError(f"{' '.join(command[1:4])}… failed (exit {done.returncode}): {done.stderr.strip()[-1500:]}")
    return done.stdout


def deploy(docker_host: str | None, settings: StackSettings) -> None:
    """``docker stack deploy`` stack.yaml plus the override; ``--resolve-image never``: there is no registry."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="socklab-stack-") as override:
        json.dump(settings.override(), override)
        override.flush()
        _cli(
            docker_host,
            ["stack", "deploy", "--resolve-image", "never", "-c", str(STACK_FILE), "-c", override.name, STACK_NAME],
            env=settings.environment(),
        )


def remove(
    client: docker.DockerClient, docker_host: str | None, *, engines: Sequence[docker.DockerClient] = ()
) -> None:
    """``docker stack rm``, then wait until its services, its task containers and its network are gone.

    The CLI returns once the manager has removed the services (the CLI's own ``--detach=false`` wait has no
    bound and was seen hanging for minutes in a test's teardown), while each engine stops and removes the
    task containers afterwards (a server task drains for up to its stop grace period), and the manager
    removes the overlay network a moment later (a deploy in that moment finds the old network, creates
    none, and fails with "network socklab_lab not found"). Only when all of it is gone is the stack
    removed: the task containers on ``client``'s engine and on every one of ``engines`` (the other nodes
    of a swarm of several), each wait bounded, a timeout naming what is still there.
    """
    _cli(docker_host, ["stack", "rm", STACK_NAME])
    deadline = time.monotonic() + SETTLE
    selector = {"label": f"{NAMESPACE_LABEL}={STACK_NAME}"}
    for engine in (client, *engines):
        while tasks := engine.containers.list(all=True, filters=selector, ignore_removed=True):
            for task in tasks:  # the engine's own "removed" condition: no polling while one is under way
                left = max(1, int(deadline - time.monotonic()))
                with contextlib.suppress(docker.errors.NotFound, requests.exceptions.RequestException):
                    engine.api.wait(task.id, timeout=left, condition="removed")
            if time.monotonic() > deadline:
                names = ", ".join(sorted(str(t.name) for t in tasks))
                raise StackError(f"task containers still there {SETTLE:g} s after `docker stack rm`: {names}")
    while client.networks.list(filters=selector):
        if time.monotonic() > deadline:
            raise StackError(f"the stack's network was still there {SETTLE:g} s after `docker stack rm`")
        time.sleep(0.1)  # the manager removes it without an event this engine reports


def deployed(client: docker.DockerClient) -> bool:
    return bool(client.services.list(filters={"label": f"{NAMESPACE_LABEL}={STACK_NAME}"}))


def _service(client: docker.DockerClient, name: str) -> Service:
    return client.services.get(name)


def _terminal_tasks(service: Service) -> list[Task]:
    return [t for t in service.tasks() if t["Status"]["State"] in TERMINAL_STATES]


def wait_for_clients(client: docker.DockerClient, *, clients: int, delay: float, connect_deadline: float) -> list[Task]:
    """Wait until ``clients`` client tasks have finished (answered, failed or been rejected); return the tasks.

    The swarm API has no event for a task's state, so this asks the manager (as ``docker service ps`` does),
    every 0.2 s, for at most the client's own deadlines plus time to schedule and start.
    """
    service = _service(client, CLIENT_SERVICE)
    limit = connect_deadline + delay + SETTLE
    deadline = time.monotonic() + limit
    while len(done := _terminal_tasks(service)) < clients:
        if time.monotonic() > deadline:
            states = sorted(t["Status"]["State"] for t in service.tasks())
            raise StackError(f"{len(done)} of {clients} client tasks finished within {limit:g} s (states: {states})")
        time.sleep(0.2)
    return done


def wait_for_server(client: docker.DockerClient, *, timeout: float = SETTLE) -> None:
    """Wait until the server task's log says it is waiting for a connection (our servers print that line)."""
    deadline = time.monotonic() + timeout
    while SERVER_READY_LINE not in service_log(client, SERVER_SERVICE):
        if time.monotonic() > deadline:
            raise StackError(f"the server did not log {SERVER_READY_LINE!r} within {timeout:g} s")
        time.sleep(0.2)


def service_log(client: docker.DockerClient, name: str) -> str:
    """A service's output from every task on every node, as the manager collects it."""
    raw = client.api.service_logs(name, stdout=True, stderr=True, follow=False)
    return (raw if isinstance(raw, bytes) else b"".join(raw)).decode(errors="replace")


def node_names(client: docker.DockerClient) -> dict[str, str]:
    return {n.id: n.attrs["Description"]["Hostname"] for n in client.nodes.list()}


def client_rows(tasks: Sequence[Task], results: Sequence[ClientResult], nodes: Mapping[str, str]) -> list[ClientRow]:
    """Pair each finished task with the result line its container printed (a task's container has the
    container's short id as its host name, which is what the client reports as ``host``)."""
    by_host = {r.host: r for r in results}
    rows = []
    for task in tasks:
        container = (task["Status"].get("ContainerStatus") or {}).get("ContainerID") or ""
        result = by_host.get(container[:12]) if container else None
        rows.append(
            ClientRow(
                node=nodes.get(task.get("NodeID", ""), task.get("NodeID", "?")),
                task=task["ID"][:12],
                state=task["Status"]["State"],
                result=result,
                error="" if result else task["Status"].get("Err", "") or task["Status"].get("Message", ""),
            )
        )
    return sorted(rows, key=lambda r: (r.node, (r.result.address or "") if r.result else ""))


def run_stack(client: docker.DockerClient, docker_host: str | None, settings: StackSettings) -> StackRun:
    """Deploy, wait for the clients, and judge: each client's row and whether they were served concurrently."""
    started = time.monotonic()
    deploy(docker_host, settings)
    tasks = wait_for_clients(
        client, clients=settings.clients, delay=settings.delay, connect_deadline=settings.connect_deadline
    )
    seconds = time.monotonic() - started
    rows = client_rows(tasks, parse_results(service_log(client, CLIENT_SERVICE)), node_names(client))
    intervals = [r.interval for r in rows if r.interval]
    verdict = judge(intervals, clients=settings.clients, delay=settings.delay)
    return StackRun(tuple(rows), verdict, seconds, service_log(client, SERVER_SERVICE))
