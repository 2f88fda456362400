"""compose.yaml as compose reads it (`docker compose config`, no engine needed): what it builds under
which tag, and the locked-down runtime it asks for."""

from __future__ import annotations

import functools
import json
import os
import subprocess

import pytest

from socklab.paths import COMPOSE_FILE, ROOT
from socklab.wire import MODELS

COMPOSE = ("docker", "compose", "-f", str(COMPOSE_FILE), "--env-file", os.devnull, "-p", "socklab-config-test")
KNOBS = ("SERVER_IMAGE", "CLIENT_IMAGE", "SOCKLAB_MODEL", "BASE_IMAGE", "SOCKLAB_REPOSITORY")


@functools.cache
def config(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in KNOBS and k != "COMPOSE_PROJECT_NAME"}
    try:
        done = subprocess.run(
            # --env-file: a user's .env beside compose.yaml must not change what is tested.
            [*COMPOSE, "config", "--format", "json"],
            env={**clean, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
    except FileNotFoundError:
        pytest.skip("no docker CLI")
    if done.returncode != 0 and "is not a docker command" in done.stderr:
        pytest.skip("no Compose v2 (`socklab compose` installs it)")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["services"]


def test_defaults_build_the_fork_server_under_its_own_tag_from_the_base():
    services = config()
    server, client = services["server"], services["client"]
    assert server["image"] == "socklab/server:fork"
    assert server["build"]["args"] == {"BASE_IMAGE": "socklab/base:latest", "MODEL": "fork"}
    assert client["image"] == "socklab/client:latest"
    assert client["build"]["args"] == {"BASE_IMAGE": "socklab/base:latest"}
    for service in (server, client):
        assert (ROOT / service["build"]["dockerfile"]).is_file()


@pytest.mark.parametrize("model", MODELS)
def test_the_tag_and_the_built_model_come_from_one_variable(model):
    server = config(SOCKLAB_MODEL=model)["server"]
    assert server["image"] == f"socklab/server:{model}"
    assert server["build"]["args"]["MODEL"] == model


def test_a_registry_base_is_one_variable_away():
    services = config(BASE_IMAGE="python:3.11-slim")
    assert {s["build"]["args"]["BASE_IMAGE"] for s in services.values()} == {"python:3.11-slim"}


@pytest.mark.parametrize(("variable", "service"), [("SERVER_IMAGE", "server"), ("CLIENT_IMAGE", "client")])
def test_a_chosen_prebuilt_image_runs_and_is_never_built_over(variable, service):
    chosen = config(**{variable: "socklab/server:c-fork"})[service]
    assert chosen["image"] == "socklab/server:c-fork"
    # `--build` fails on this name instead of tagging a Python build as the chosen image.
    assert not (ROOT / chosen["build"]["dockerfile"]).exists()
    assert variable in chosen["build"]["dockerfile"]


@pytest.mark.parametrize("service", ["server", "client"])
def test_the_services_run_locked_down(service):
    spec = config()[service]
    assert spec["read_only"] is True
    assert spec["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in spec["security_opt"]
    assert spec["pids_limit"] > 0 and int(spec["mem_limit"]) > 0
    assert {entry.split(":")[0] for entry in spec["tmpfs"]} == {"/tmp", "/run/socklab"}
