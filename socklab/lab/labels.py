"""Labels on every Docker object socklab makes, so that a run can find and remove exactly its own."""

from __future__ import annotations

import uuid

import docker
import docker.errors

PROJECT = "io.socklab.project"  # on everything socklab makes: "socklab"
RUN = "io.socklab.run"  # one id per lab run or test session
PURPOSE = "io.socklab.purpose"  # what the object is for: lab, test, demo, …


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def run_labels(run_id: str, purpose: str) -> dict[str, str]:
    return {PROJECT: "socklab", RUN: run_id, PURPOSE: purpose}


def remove_run(client: docker.DockerClient, run_id: str, *, images: bool = True) -> list[str]:
    """Remove every container, network and image labelled with ``run_id``; return what went.

    The safety net behind the context managers: it runs at the end of a test session and after Ctrl-C,
    and removes only what carries this run's label.
    """
    selector = {"label": f"{RUN}={run_id}"}
    removed: list[str] = []
    for container in client.containers.list(all=True, filters=selector, ignore_removed=True):
        try:
            container.remove(force=True, v=True)
            removed.append(f"container {container.name}")
        except docker.errors.NotFound:
            pass
    for network in client.networks.list(filters=selector):
        try:
            network.remove()
            removed.append(f"network {network.name}")
        except docker.errors.NotFound:
            pass
    for image in client.images.list(filters=selector) if images else []:
        for tag in image.tags or [image.id]:
            try:
                client.images.remove(tag, force=True, noprune=False)
                removed.append(f"image {tag}")
            except docker.errors.NotFound:
                pass
    return removed
