"""Labels on every Docker object socklab makes, so that a run can find and remove exactly its own."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable
from functools import partial

import docker
import docker.errors
from docker.models.networks import Network

PROJECT = "io.socklab.project"  # on everything socklab makes: "socklab"
RUN = "io.socklab.run"  # one id per lab run or test session
PURPOSE = "io.socklab.purpose"  # what the object is for: lab, test, demo, …
OWNER_PID = "io.socklab.owner-pid"  # the process that made it: `socklab clean` spares the runs still alive


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def run_labels(run_id: str, purpose: str) -> dict[str, str]:
    return {PROJECT: "socklab", RUN: run_id, PURPOSE: purpose, OWNER_PID: str(os.getpid())}


class LeftBehind(RuntimeError):
    """Some objects of a run could not be removed (the engine refused); the message names them."""

    def __init__(self, run_id: str, failures: list[str]) -> None:
        self.failures = failures
        super().__init__(f"run {run_id}: could not remove {'; '.join(failures)} (`socklab clean` tries again)")


def _attempt(failures: list[str], what: str, action: Callable[[], object]) -> bool:
    """Run one removal; a vanished object is fine, any other refusal is noted and the sweep goes on."""
    try:
        action()
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        failures.append(f"{what}: {exc.explanation or exc}")
        return False
    return True


def _remove_network(network: Network, deadline: float) -> None:
    """Disconnect whatever is still attached (another run's sidecar), then remove; retried until ``deadline``.

    Right after its containers are removed, the engine may still hold an endpoint for a moment ("network
    has active endpoints", or a container "Removal In Progress" under load).
    """
    while True:
        network.reload()
        for attached in network.containers:
            with contextlib.suppress(docker.errors.APIError):
                network.disconnect(attached, force=True)
        try:
            network.remove()
            return
        except docker.errors.APIError as exc:
            if exc.status_code == 404:
                return
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.25)  # the engine finishes a removal it has under way; nothing to subscribe to


def remove_run(client: docker.DockerClient, run_id: str, *, images: bool = True, patience: float = 10.0) -> list[str]:
    """Remove every container, network, volume and image labelled with ``run_id``; return what went.

    The safety net behind the context managers: it runs at the end of a test session, after Ctrl-C and
    from the reaper after SIGKILL, and removes only what carries this run's label. Containers go first,
    so that no endpoint keeps a network or a volume in use. Every object is tried even when one is
    refused; then LeftBehind names what stayed.
    """
    selector = {"label": f"{RUN}={run_id}"}
    removed: list[str] = []
    failures: list[str] = []
    for container in client.containers.list(all=True, filters=selector, ignore_removed=True):
        if _attempt(failures, f"container {container.name}", partial(container.remove, force=True, v=True)):
            removed.append(f"container {container.name}")
    deadline = time.monotonic() + patience
    for network in client.networks.list(filters=selector):
        if _attempt(failures, f"network {network.name}", partial(_remove_network, network, deadline)):
            removed.append(f"network {network.name}")
    for volume in client.volumes.list(filters=selector):
        if _attempt(failures, f"volume {volume.name}", partial(volume.remove, force=True)):
            removed.append(f"volume {volume.name}")
    for image in client.images.list(filters=selector) if images else []:
        for tag in image.tags or [image.id]:
            if _attempt(failures, f"image {tag}", partial(client.images.remove, tag, force=True, noprune=False)):
                removed.append(f"image {tag}")
    if failures:
        raise LeftBehind(run_id, failures)
    return removed


def process_alive(pid: str | None) -> bool:
    """Whether the process that made a run still runs (on this host; a pid from elsewhere counts as gone)."""
    if not pid or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers(client: docker.DockerClient, *, include_live: bool = False) -> list[str]:
    """Remove the containers, networks and volumes of socklab runs whose process has ended; images stay.

    A run whose owner is still alive (another terminal's ``socklab run``, a test session) is spared unless
    ``include_live``.
    """
    selector = {"label": PROJECT}
    owners: dict[str, str | None] = {}
    for labels in [
        *(c.labels for c in client.containers.list(all=True, filters=selector, ignore_removed=True)),
        *((n.attrs.get("Labels") or {}) for n in client.networks.list(filters=selector)),
        *((v.attrs.get("Labels") or {}) for v in client.volumes.list(filters=selector)),
    ]:
        if labels.get(RUN):
            owners.setdefault(labels[RUN], labels.get(OWNER_PID))
    removed: list[str] = []
    for run_id, pid in sorted(owners.items()):
        if include_live or not process_alive(pid):
            try:
                removed += remove_run(client, run_id, images=False)
            except LeftBehind as exc:
                removed.append(f"NOT all of run {run_id}: {exc}")
    return removed
