"""The built wheel, installed in a fresh venv outside the checkout, and images built by that install.

Building the wheel (``python -m build``: an sdist, then the wheel from it) and installing it with its
dependencies take minutes: once per test run, for every xdist worker (``once``, in the run's shared folder),
and from a copy of the checkout, since setuptools writes into the folder it builds (the sdist's staging
folder, the egg-info), which must never meet another build or a test reading the tree. The wheel's images
are built once per run too, labelled with the run that removes them at its end (``shared_labels``).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from socklab.lab.labels import RUN
from support_wheel import copy_of_checkout, must, once, run


@pytest.fixture(scope="session")
def wheel(run_folder: Path) -> Path:
    def build(out: Path) -> None:
        source = copy_of_checkout(out / "source")
        must(run([sys.executable, "-m", "build", "--outdir", out, source], cwd=out))
        shutil.rmtree(source)

    (built,) = once(run_folder / "dist", build).glob("socklab-*.whl")
    return built


@pytest.fixture(scope="session")
def venv(run_folder: Path, wheel: Path) -> Path:
    """A fresh venv in a temporary folder, with the wheel, pytest and pytest-xdist installed."""

    def install(home: Path) -> None:
        must(run([sys.executable, "-m", "venv", home], cwd=home))
        pip = [home / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        must(run([*pip, wheel, "pytest", "pytest-xdist"], cwd=home))

    return once(run_folder / "venv", install)


@pytest.fixture(scope="session")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder outside the checkout (where a user's own project would be)."""
    return tmp_path_factory.mktemp("elsewhere")


BUILD_SCRIPT = """
import json, sys
import docker
from socklab.images.build import build_images
from socklab.paths import ROOT
session, labels = sys.argv[1], json.loads(sys.argv[2])
images = build_images(docker.from_env(), repository_prefix="socklab-test", session=session, labels=labels, with_c=False)
print(json.dumps({"root": str(ROOT), "servers": images.servers, "clients": images.clients}))
"""


@pytest.fixture(scope="session")
def wheel_images(venv: Path, outside: Path, run_folder: Path, shared_labels: dict[str, str]) -> dict[str, object]:
    """The Python server versions and client, built by the installed wheel from its own build contexts: once
    per run, by the first worker to ask, labelled with the run's shared labels (removed at its end)."""

    def build(folder: Path) -> None:
        session = f"{shared_labels[RUN]}-wheel"
        command = [venv / "bin" / "python", "-c", BUILD_SCRIPT, session, json.dumps(shared_labels)]
        out = must(run(command, cwd=outside))
        (folder / "images.json").write_text(out.strip().splitlines()[-1])

    return dict(json.loads((once(run_folder / "wheel-images", build) / "images.json").read_text()))
