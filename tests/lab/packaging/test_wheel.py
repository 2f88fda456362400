"""The wheel installs one top-level name, runs outside a checkout, and builds the images from its own copy
of the build contexts (issue 14)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docker
import pytest

from socklab.lab.labels import RUN
from socklab.paths import TREE_FOLDERS
from support_wheel import must, run

pytestmark = pytest.mark.lab

IMAGE_PACKAGES = ("server", "client", "wire", "agents", "probes", "sidecar", "impair", "observer")


def test_the_wheel_holds_one_top_level_name(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/", 1)[0] for name in archive.namelist()}
        top_level = next(name for name in archive.namelist() if name.endswith("top_level.txt"))
        assert archive.read(top_level).decode().split() == ["socklab"]
    assert tops == {"socklab", wheel.name.split("-py3")[0] + ".dist-info"}


def test_a_users_own_client_package_is_not_shadowed(venv: Path, outside: Path):
    python = venv / "bin" / "python"
    for name in IMAGE_PACKAGES:
        done = run([python, "-c", f"import {name}"], cwd=outside)
        assert done.returncode != 0 and f"No module named '{name}'" in done.stderr, f"{name} is installed"
    project = outside / "users-project"
    (project / "client").mkdir(parents=True)
    (project / "client" / "__init__.py").write_text("WHO = 'the user'\n")
    code = "import socklab.cli.main, socklab.wire, client; print(client.WHO, socklab.wire.DEFAULT_PORT)"
    assert must(run([python, "-c", code], cwd=project)).split() == ["the", "user", "9736"]


def test_socklab_help_works_outside_a_checkout(venv: Path, outside: Path):
    out = must(run([venv / "bin" / "socklab", "--help"], cwd=outside))
    assert "images" in out and "check" in out


def test_images_build_from_the_wheels_own_contexts(
    venv: Path, wheel_images: dict[str, object], docker_client: docker.DockerClient, shared_labels: dict[str, str]
):
    root = Path(str(wheel_images["root"]))
    assert root.is_relative_to(venv) and root.name == "_tree", root  # not this checkout
    assert all((root / folder).is_dir() for folder in TREE_FOLDERS)
    servers, clients = wheel_images["servers"], wheel_images["clients"]
    assert isinstance(servers, dict) and isinstance(clients, dict)
    for tag, role in [(servers["fork"], "server"), (clients["python"], "client")]:
        labels = docker_client.images.get(tag).labels
        assert labels[RUN] == shared_labels[RUN] and labels["io.socklab.role"] == role, labels  # removed with the run
    version = (root / "server" / "__init__.py").read_text().split('__version__ = "')[1].split('"')[0]
    assert docker_client.images.get(servers["fork"]).labels["org.opencontainers.image.version"] == version
