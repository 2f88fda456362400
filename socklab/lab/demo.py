"""The compose demo: ``docker compose up --scale client=3`` until every client has answered, then down.

The user sees exactly what ``docker compose up`` prints; a watcher stops the stack once every client
container has exited, and the answers are read back from the clients' own logs.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import docker
from docker.models.containers import Container

from socklab.events import recorder as recording
from socklab.events.docker_watch import LabWatch
from socklab.events.lines import engine_stamp
from socklab.events.schema import Kind
from socklab.lab.client_run import CLASSIC_LINE
from socklab.lab.compose import ensure_compose
from socklab.lab.lab import Lab
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


def _client_containers(client: docker.DockerClient, project: str) -> list[Container]:
    # ignore_removed: the SDK inspects each listed container, and one may be gone by then.
    return list(
        client.containers.list(
            all=True,
            filters={"label": [f"{PROJECT_LABEL}={project}", f"{SERVICE_LABEL}=client"]},
            ignore_removed=True,
        )
    )


@dataclass
class _Watch:
    """What the watcher thread hands back to the main thread."""

    seconds: float = 0.0
    containers: list[Container] = field(default_factory=list)
    error: BaseException | None = None


def _wait_for_clients(
    client: docker.DockerClient, events: Iterator[dict[str, Any]], project: str, count: int
) -> list[Container]:
    """The client containers once ``count`` of them have exited: counted from the engine's ``die`` events."""
    exited: set[str] = set()
    for event in events:
        exited.add(str(event.get("id")))
        if len(exited) >= count:
            return _client_containers(client, project)
    raise TimeoutError(f"only {len(exited)} of the {count} clients exited in time")


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
    watch = _Watch()
    # Subscribed before `up`, so no client can exit unseen; `until` bounds the wait.
    # `since` now: with `until` alone the engine first replays the events it still holds (an earlier demo's).
    events = docker_client.events(
        decode=True,
        since=f"{time.time():.9f}",
        until=int(time.time() + timeout),
        filters={
            "type": "container",
            "event": "die",
            "label": [f"{PROJECT_LABEL}={project}", f"{SERVICE_LABEL}=client"],
        },
    )

    def watcher(started: float) -> None:
        try:
            watch.containers = _wait_for_clients(docker_client, events, project, clients)
            watch.seconds = time.monotonic() - started
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread below
            watch.error = exc
        # Stopping the stack makes the attached `up` return, as Ctrl-C would.
        subprocess.run([*compose, "stop", "--timeout", "15"], env=full_env, capture_output=True)

    progress(f"docker compose -p {project} up --scale client={clients}")
    started = time.monotonic()
    thread = threading.Thread(target=watcher, args=(started,), daemon=True)
    kernel = _kernel_lab(progress)
    if kernel is not None:
        full_env.update(kernel.kernel_server_env())  # the server waits for its tracer before socket()
    followed = _watch_events(project, kernel)
    try:
        thread.start()
        subprocess.run([*compose, "up", "--scale", f"client={clients}"], env=full_env, check=False)
        thread.join(timeout=30)
        if watch.error is not None:
            raise watch.error
        answers = []
        for container in sorted(watch.containers, key=lambda c: str(c.name)):
            container.reload()
            text = container.logs().decode(errors="replace").strip()
            answers.append(ClientAnswer(container.name, int(container.attrs["State"]["ExitCode"]), text))
            _record_answer(project, answers[-1], container)
        server_log = subprocess.run(
            [*compose, "logs", "--no-color", "--no-log-prefix", "server"],
            env=full_env,
            capture_output=True,
            text=True,
        ).stdout
        return DemoResult(answers, watch.seconds, server_log)
    finally:
        events.close()  # ends the watcher's wait (after an error or Ctrl-C); its `stop` is bounded by --timeout
        if thread.is_alive():
            thread.join(timeout=30)  # so that `down` below is the last thing done to the stack, not a `stop`
        subprocess.run([*compose, "down", "--remove-orphans", "--timeout", "15"], env=full_env, capture_output=True)
        if followed is not None:
            followed.close()
        if kernel is not None:
            kernel.close()
        docker_client.close()


def _kernel_lab(progress: Progress) -> Lab | None:
    """With ``--kernel``: a lab of no network of its own whose observer and tracers watch compose's containers."""
    recorder = recording.active()
    if recorder is None or not recorder.kernel:
        return None
    lab = Lab(server_image=None, purpose="demo-kernel", own_network=False, progress=progress, kernel=True)
    lab.start()
    return lab


def _watch_events(project: str, kernel: Lab | None = None) -> LabWatch | None:
    """The demo's containers and its server's log as the run's events, live (when it is being recorded); with
    ``kernel``, each container as it starts observed by it (the server traced): compose starts them, so they are
    met on the engine's start event, and a client that connects within a few milliseconds of it is met late."""
    recorder = recording.active()
    if recorder is None:
        return None

    def role_of(name: str) -> str | None:
        return name.removeprefix(f"{project}-") if name.startswith(f"{project}-") else None

    def observe(role: str, container_id: str) -> None:
        if kernel is not None:
            kernel.observe_started(role, container_id, server=role.startswith("server"))

    return LabWatch(
        recorder,
        label=f"{PROJECT_LABEL}={project}",
        role_of=role_of,
        follows=lambda role: role.startswith("server"),
        image_of=lambda role: "",
        on_start=observe,
    ).start()


def _record_answer(project: str, answer: ClientAnswer, container: Container) -> None:
    """A demo client's answer (its classic line) as events: it prints no JSON record."""
    if not recording.recording():
        return
    role = answer.container.removeprefix(f"{project}-")
    recording.emit(Kind.HOST, role, role=role, image=str(container.attrs["Config"]["Image"]), address=None)
    match = CLASSIC_LINE.search(answer.line)
    # The demo's client says how long it took; the container's end is when it had its answer.
    finished = _engine_time(str(container.attrs["State"].get("FinishedAt", "")))
    timing = _TIMING.search(answer.line)
    if finished is not None and timing is not None:
        answered = float(timing["answer"])
        recording.emit(Kind.CONNECTED, role, t=finished - answered, peer=timing["server"], address=timing["ip"])
    if answer.exit_code == 0 and match:
        seconds = float(timing["answer"]) if timing else None
        ok, address = match[1] == "B", timing["ip"] if timing else None
        recording.emit(Kind.ANSWERED, role, t=finished, reply=ord(match[1]), seconds=seconds, ok=ok, address=address)
    else:
        recording.emit(Kind.FAILED, role, t=finished, error=answer.line[-300:], seconds=None)


_TIMING = re.compile(
    r"host \S+ (?P<ip>\S+), server (?P<server>\S+), [\d.]+ s to connect, (?P<answer>[\d.]+) s to answer"
)


def _engine_time(text: str) -> float | None:
    """A container's RFC 3339 time (nanoseconds) as POSIX seconds; None when it has none."""
    stamp, _ = engine_stamp(text.replace("Z", "Z ", 1)) if text else (None, "")
    return stamp
