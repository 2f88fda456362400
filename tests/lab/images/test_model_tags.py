"""The Python server's model tags, derived from one build: each says its model and runs it."""

from __future__ import annotations

import socket

import docker
import pytest

from socklab.images.build import DEFAULT_MODEL, TABLE, ImageSet
from socklab.lab.lab import Lab
from socklab.wire.oracle import expected_reply

pytestmark = pytest.mark.lab

MODELS = [row.version for row in TABLE if row.model is not None]


def _env(image) -> dict[str, str]:
    return dict(item.split("=", 1) for item in image.attrs["Config"]["Env"])


@pytest.mark.parametrize("model", MODELS)
def test_label_default_model_and_files_agree(docker_client: docker.DockerClient, lab_images: ImageSet, model: str):
    image = docker_client.images.get(lab_images.servers[model])
    built = docker_client.images.get(lab_images.servers[DEFAULT_MODEL])
    assert image.labels["io.socklab.model"] == model
    assert _env(image)["SOCKLAB_MODEL"] == model
    # Metadata only: the same files, and everything else about the image as the one build's.
    assert image.attrs["RootFS"]["Layers"] == built.attrs["RootFS"]["Layers"]
    assert image.attrs["Size"] == built.attrs["Size"]
    other_labels = {k: v for k, v in image.labels.items() if k != "io.socklab.model"}
    assert other_labels == {k: v for k, v in built.labels.items() if k != "io.socklab.model"}
    assert {k: v for k, v in _env(image).items() if k != "SOCKLAB_MODEL"} == {
        k: v for k, v in _env(built).items() if k != "SOCKLAB_MODEL"
    }
    for key in ("Entrypoint", "Cmd", "User", "WorkingDir", "ExposedPorts", "Healthcheck"):
        assert image.attrs["Config"].get(key) == built.attrs["Config"].get(key), key


@pytest.mark.parametrize("model", MODELS)
def test_each_tag_serves_with_its_model(lab_images: ImageSet, model: str):
    with Lab(server_image=lab_images.servers[model], delay=0.1, purpose="test") as lab:
        lab.wait_for_server_log(rf"listening on .*\bmodel {model},", timeout=30)
        with socket.create_connection((lab.server_address(), lab.port), timeout=10) as conn:
            conn.sendall(b"A")
            answer = conn.recv(1)
    assert answer == bytes([expected_reply(ord("A"))])
