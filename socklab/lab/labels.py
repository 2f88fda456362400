"""Labels on every Docker object socklab makes, so that a run can find and remove exactly its own."""

from __future__ import annotations

import contextlib
import os
import uuid

import docker
import docker.errors

PROJECT = "io.socklab.project"  # on everything socklab makes: "socklab"
RUN = "io.socklab.run"  # one id per lab run or test session
PURPOSE = "io.socklab.purpose"  # what the object is for: lab, test, demo, …
OWNER_PID = "io.socklab.owner-pid"  # the process that made it: `socklab clean` spares the runs still alive


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def run_labels(run_id: str, purpose: str) -> dict[str, str]:
    return {PROJECT: "socklab", RUN: run_id, PURPOSE: purpose, OWNER_PID: str(os.getpid())}


def remove_run(client: docker.DockerClient, run_id: str, *, images: bool = True) -> list[str]:
    """Remove every container, network, volume and image labelled with ``run_id``; return what went.

    The safety net behind the context managers: it runs at the end of a test session, after Ctrl-C and
    from the reaper after SIGKILL, and removes only what carries this run's label. Containers go first,
    so that no endpoint keeps a network or a volume in use.
    """
    selector = {"label": f"{RUN}={run_id}"}
    removed: list[str] = []
    for container in client.containers.list(all=True, filters=selector, ignore_removed=True):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)
            removed.append(f"container {container.name}")
    for network in client.networks.list(filters=selector):
        with contextlib.suppress(docker.errors.NotFound):
            network.reload()
            # A container of another run (a fault sidecar, a foreign client) may still be attached.
            for attached in network.containers:
                with contextlib.suppress(docker.errors.APIError):
                    network.disconnect(attached, force=True)
            network.remove()
            removed.append(f"network {network.name}")
    for volume in client.volumes.list(filters=selector):
        with contextlib.suppress(docker.errors.NotFound):
            volume.remove(force=True)
            removed.append(f"volume {volume.name}")
    for image in client.images.list(filters=selector) if images else []:
        for tag in image.tags or [image.id]:
            with contextlib.suppress(docker.errors.NotFound):
                client.images.remove(tag, force=True, noprune=False)
                removed.append(f"image {tag}")
    return removed


def _alive(pid: str | None) -> bool:
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
        if include_live or not _alive(pid):
            removed += remove_run(client, run_id, images=False)
    return removed
