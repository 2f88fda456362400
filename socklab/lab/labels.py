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
import requests
from docker.models.containers import Container
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


def _retrying(deadline: float, action: Callable[[], object]) -> None:
    """Run a removal; while the engine refuses with anything but "not found", try again until ``deadline``.

    Right after a run's containers go, the engine may still hold a volume "in use" or an endpoint for a
    moment, and under load a removal of its own can be "in progress": both end by themselves, soon.
    """
    while True:
        try:
            action()
            return
        except docker.errors.APIError as exc:
            if exc.status_code == 404 or time.monotonic() >= deadline:
                raise
            time.sleep(0.25)  # the engine finishes a removal it has under way; nothing to subscribe to


def _remove_container(client: docker.DockerClient, container: Container, deadline: float) -> None:
    """Force-remove; when the engine already removes it ("in progress"), wait until it is gone, bounded."""

    def attempt() -> None:
        try:
            container.remove(force=True, v=True)
        except docker.errors.APIError as exc:
            if exc.status_code != 409 or "in progress" not in str(exc.explanation or exc):
                raise
            left = max(1, int(deadline - time.monotonic()))
            with contextlib.suppress(docker.errors.NotFound, requests.exceptions.RequestException):
                client.api.wait(container.id, timeout=left, condition="removed")
            client.api.inspect_container(container.id)  # NotFound: gone; else the 409 again, retried
            raise

    _retrying(deadline, attempt)


def _remove_network(network: Network, deadline: float) -> None:
    """Disconnect whatever is still attached (another run's sidecar), then remove; retried until ``deadline``."""

    def attempt() -> None:
        network.reload()
        for attached in network.containers:
            with contextlib.suppress(docker.errors.APIError):
                network.disconnect(attached, force=True)
        network.remove()

    _retrying(deadline, attempt)


def remove_run(client: docker.DockerClient, run_id: str, *, images: bool = True, patience: float = 30.0) -> list[str]:
    """Remove every container, network, volume and image labelled with ``run_id``; return what went.

    Synchronous: when it returns, what it names is gone from the engine (a refusal that does not end
    within ``patience`` seconds is named in LeftBehind instead). The safety net behind the context
    managers: it runs when a lab closes, at the end of a test session, after Ctrl-C and from the reaper
    after SIGKILL, and removes only what carries this run's label. Containers go first, so that no
    endpoint keeps a network or a volume in use. Every object is tried even when one is refused.
    """
    selector = {"label": f"{RUN}={run_id}"}
    removed: list[str] = []
    failures: list[str] = []
    deadline = time.monotonic() + patience
    for container in client.containers.list(all=True, filters=selector, ignore_removed=True):
        remove = partial(_remove_container, client, container, deadline)
        if _attempt(failures, f"container {container.name}", remove):
            removed.append(f"container {container.name}")
    for network in client.networks.list(filters=selector):
        if _attempt(failures, f"network {network.name}", partial(_remove_network, network, deadline)):
            removed.append(f"network {network.name}")
    for volume in client.volumes.list(filters=selector):
        remove_volume = partial(_retrying, deadline, partial(volume.remove, force=True))
        if _attempt(failures, f"volume {volume.name}", remove_volume):
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
