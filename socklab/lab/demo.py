"""The compose demo: ``docker compose up --scale client=3`` until every client has answered, then down.

The user sees exactly what ``docker compose up`` prints; a watcher stops the stack once every client
container has exited, and the answers are read back from the clients' own logs.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass

import docker

from socklab.lab.compose import ensure_compose
from socklab.paths import COMPOSE_FILE
from socklab.progress import Progress, quiet

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


@dataclass(frozen=True)
class ClientAnswer:
    container: str
    exit_code: int
    line: str  # the client's `char from server = …` line, or its error


@dataclass(frozen=True)
class DemoResult:
    answers: list[ClientAnswer]
    seconds: float  # from `up` to the last client's exit
    server_log: str

    @property
    def ok(self) -> bool:
        return bool(self.answers) and all(a.exit_code == 0 for a in self.answers)


def _client_containers(client: docker.DockerClient, project: str) -> list:
    # ignore_removed: the SDK inspects each listed container, and one may be gone by then.
    return client.containers.list(
        all=True,
        filters={"label": [f"{PROJECT_LABEL}={project}", f"{SERVICE_LABEL}=client"]},
        ignore_removed=True,
    )


def _wait_for_clients(client: docker.DockerClient, project: str, count: int, deadline: float) -> list:
    """The client containers once ``count`` of them exist and all have exited (polled: no test here)."""
    while time.monotonic() < deadline:
        containers = _client_containers(client, project)
        if len(containers) >= count and all(c.status in ("exited", "dead") for c in containers):
            return containers
        time.sleep(0.2)
    raise TimeoutError(f"the {count} clients did not all exit in time")


def run_demo(
    *,
    clients: int = 3,
    project: str = "socklab",
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
    progress: Progress = quiet,
) -> DemoResult:
    """Run the compose demo with ``clients`` clients; always ``docker compose down`` at the end."""
    compose = [*ensure_compose(progress), "-f", str(COMPOSE_FILE), "-p", project]
    full_env = {**os.environ, **(env or {})}
    docker_client = docker.from_env()
    outcome: dict[str, object] = {}

    def watch(started: float) -> None:
        try:
            containers = _wait_for_clients(docker_client, project, clients, started + timeout)
            outcome["seconds"] = time.monotonic() - started
            outcome["containers"] = containers
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread below
            outcome["error"] = exc
        # Stopping the stack makes the attached `up` return, as Ctrl-C would.
        subprocess.run([*compose, "stop", "--timeout", "15"], env=full_env, capture_output=True)

    progress(f"docker compose -p {project} up --scale client={clients}")
    try:
        started = time.monotonic()
        watcher = threading.Thread(target=watch, args=(started,), daemon=True)
        watcher.start()
        subprocess.run([*compose, "up", "--scale", f"client={clients}"], env=full_env, check=False)
        watcher.join(timeout=30)
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        answers = []
        for container in sorted(outcome.get("containers", []), key=lambda c: c.name):  # type: ignore[arg-type]
            container.reload()
            text = container.logs().decode(errors="replace").strip()
            answers.append(ClientAnswer(container.name, int(container.attrs["State"]["ExitCode"]), text))
        server_log = subprocess.run(
            [*compose, "logs", "--no-color", "--no-log-prefix", "server"],
            env=full_env,
            capture_output=True,
            text=True,
        ).stdout
        return DemoResult(answers, float(outcome.get("seconds", 0.0)), server_log)  # type: ignore[arg-type]
    finally:
        subprocess.run([*compose, "down", "--remove-orphans", "--timeout", "15"], env=full_env, capture_output=True)
        docker_client.close()
