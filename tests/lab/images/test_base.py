"""The Python base, built for real into a throwaway tag and run as the lab user (needs root and Docker)."""

from __future__ import annotations

import contextlib
import os
import uuid

import docker
import docker.errors
import pytest

from socklab.images.rootfs import build_image, image_exists
from socklab.lab.labels import run_labels

pytestmark = pytest.mark.lab

SMOKE = (
    "import socket, selectors, asyncio, threading, argparse, json, dataclasses, signal, os, sys;"
    "print(os.getuid(), os.getgid(), sys.getfilesystemencoding())"
)


def test_build_and_run_throwaway_base(docker_client: docker.DockerClient, session_id: str) -> None:
    """Build into a unique tag (never touching socklab/base:latest) and run it as the lab user."""
    if os.geteuid() != 0:
        message = "building the base image needs root (chroot)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    client = docker_client
    tag = f"socklab-test/base:{uuid.uuid4().hex[:12]}"
    labels = run_labels(session_id, "test")  # also under conftest's safety net
    messages: list[str] = []
    containers = []
    try:
        image = build_image(client, "base", tag=tag, labels=labels, progress=messages.append)
        assert image.labels["io.socklab.python"].startswith("3.")
        assert "-minimal=" in image.labels["io.socklab.debs"]
        assert any(m.startswith("compile: sourceless") for m in messages)
        assert image.attrs["Config"]["Cmd"] == ["python3"]
        assert image.attrs["Size"] < 16e6  # the budget the pruning exists for
        assert image_exists(client, tag)

        outputs = []
        for command in (["python", "-c", SMOKE], ["python", "--version"]):
            container = client.containers.create(tag, command, user="10001:10001", labels=labels, network_disabled=True)
            containers.append(container)
            container.start()
            status = container.wait(timeout=60)
            logs = container.logs(stdout=True, stderr=True).decode()
            assert status["StatusCode"] == 0, logs
            outputs.append(logs.strip())
        assert outputs[0] == "10001 10001 utf-8"
        assert outputs[1] == f"Python {image.labels['io.socklab.python']}"
    finally:
        for container in containers:
            container.remove(force=True)
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(tag, force=True)
