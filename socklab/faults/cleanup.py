"""What a crash may leave: fault sidecars still holding a rule, and rules whose sidecar is gone.

``socklab clean`` calls ``clean_faults`` before it removes labelled containers: force-removing a sidecar
would kill its agent before the undo. Each sidecar is asked to stop (SIGTERM: the agent undoes and
exits); then every target a sidecar was in is swept by a ``clean`` agent (our chain prefix, our qdisc
handle), which also covers an agent that was killed outright.
"""

from __future__ import annotations

import contextlib

import docker
import docker.errors

from socklab.lab.lab import foreign_lab
from socklab.lab.labels import OWNER_PID, process_alive
from socklab.lab.sidecar import FAULT, FAULT_TARGET, ToolsUnavailable, run_agent, tools_image
from socklab.progress import Progress, quiet
from socklab.sidecar.protocol import Clean, Cleaned

STOP_GRACE = 15  # seconds an agent gets to undo its rule after SIGTERM


def _owner_alive(labels: dict[str, str]) -> bool:
    return process_alive(labels.get(OWNER_PID))


def clean_faults(
    client: docker.DockerClient,
    *,
    include_live: bool = False,
    target: str | None = None,
    progress: Progress = quiet,
) -> list[str]:
    """Stop fault sidecars whose owner is gone (all with ``include_live``; only those in ``target``'s
    namespace if given): each agent undoes its rule; then sweep each target. Return what was done."""
    done: list[str] = []
    selector = [FAULT] if target is None else [FAULT, f"{FAULT_TARGET}={target}"]
    sidecars = [
        sidecar
        for sidecar in client.containers.list(all=True, filters={"label": selector}, ignore_removed=True)
        if include_live or not _owner_alive(sidecar.labels)
    ]
    targets: set[str] = set()
    for sidecar in sidecars:
        target = sidecar.labels.get(FAULT_TARGET)
        if target:
            targets.add(target)
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            progress(f"stopping fault sidecar {sidecar.name}")
            sidecar.stop(timeout=STOP_GRACE)
            done.append(f"stopped fault sidecar {sidecar.name}")
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            sidecar.remove(force=True)
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            client.api.wait(sidecar.id, timeout=30, condition="removed")  # auto-removal is asynchronous
    for target_id in sorted(targets):
        try:
            container = client.containers.get(target_id)
        except docker.errors.NotFound:
            continue  # its namespace went with it
        if container.status != "running":
            continue
        try:
            image = tools_image(client)
        except ToolsUnavailable as exc:
            done.append(f"could not sweep {container.name}: {exc}")
            continue
        with foreign_lab("fault") as lab:
            event = run_agent(lab, lab.adopt(container), Clean(), image=image)
        if not isinstance(event, Cleaned):
            done.append(f"could not sweep {container.name}: the agent said {event.to_json()}")
            continue
        done += [f"removed from {container.name}: {command}" for command in event.commands]
        done += [f"could not remove from {container.name}: {error}" for error in event.errors]
    return done
