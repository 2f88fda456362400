"""``socklab check IMAGE`` as a user runs it: each deliberately broken server gets the rule it breaks named,
with its log attached; a version from the tree keeps every rule; and nothing is left on the engine."""

from __future__ import annotations

import json

import docker
import pytest
from support_engine import assert_left_nothing, run_and_watch

from socklab.checks.contract import RULES
from socklab.cli.exit_codes import ExitCode
from socklab.images.build import ImageSet
from socklab.images.rootfs import BASE_TAG

pytestmark = pytest.mark.lab

RULE_NAMES = {rule.id: rule.name for rule in RULES}


@pytest.mark.parametrize(
    ("flaw", "rule", "detail"),
    [
        ("echo", "plus-one", "answered 0x41 to 0x41, expected 0x42"),
        pytest.param("close", "plus-one", "no answer to 0x41", marks=pytest.mark.slow),
        pytest.param("serial", "concurrency", "not served concurrently", marks=pytest.mark.slow),
        ("late", "delay", "more than delay + 1 s"),
    ],
)
def test_a_broken_image_gets_the_rule_it_breaks_named(
    docker_client: docker.DockerClient,
    broken_images: dict[str, str],
    lab_images: ImageSet,
    flaw: str,
    rule: str,
    detail: str,
) -> None:
    # --fail-fast: the rules before the broken one are kept, so the last one checked is the one it breaks.
    args = ["check", broken_images[flaw], "--client-image", lab_images.client, "--fail-fast", "--json"]
    watched = run_and_watch(docker_client, args)
    assert watched.returncode == ExitCode.FAILED, watched.describe()
    verdict = json.loads(watched.stdout)
    *kept, broken = verdict["rules"]
    assert all(row["kept"] for row in kept), verdict
    assert (broken["rule"], broken["kept"], broken["broken"]) == (rule, False, RULE_NAMES[rule]), verdict
    assert detail in broken["detail"], broken
    assert f"broken server ({flaw}) listening on 9736" in broken["server_log"], broken
    assert_left_nothing(watched)


def test_a_version_from_the_tree_keeps_every_rule(docker_client: docker.DockerClient, lab_images: ImageSet) -> None:
    args = ["check", lab_images.servers["thread"], "--client-image", lab_images.client]
    watched = run_and_watch(docker_client, args)
    assert watched.returncode == ExitCode.OK, watched.describe()
    for rule in RULES:
        assert f"kept   {rule.name}" in watched.stdout, watched.stdout
    assert f"keeps all {len(RULES)} rules checked" in watched.stdout
    assert_left_nothing(watched)


def test_an_image_that_never_listens_breaks_the_first_rule(
    docker_client: docker.DockerClient, lab_images: ImageSet
) -> None:
    # The base image as a server: plain python3 with no input, which exits at once having listened on nothing.
    args = ["check", BASE_TAG, "--client-image", lab_images.client, "--rule", "plus-one"]
    watched = run_and_watch(docker_client, args)
    assert watched.returncode == ExitCode.FAILED, watched.describe()
    assert "BROKEN" in watched.stdout and "accepts connections on its port" in watched.stdout, watched.stdout
    assert "--- server log (plus-one: accepts connections on its port; last lines) ---" in watched.stdout
    assert_left_nothing(watched)


def test_a_missing_image_is_its_own_exit_code(docker_client: docker.DockerClient) -> None:
    watched = run_and_watch(docker_client, ["check", "socklab-test/server:never-built"])
    assert watched.returncode == ExitCode.MISSING_IMAGE, watched.describe()
    assert "socklab-test/server:never-built" in watched.stderr
