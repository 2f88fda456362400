"""The node image's recipe: cached by a hash of everything that decides its content. No engine."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from socklab.swarm import node_image


def test_the_tag_is_the_same_in_another_process() -> None:
    # What the cache needs: the next `socklab swarm` (another interpreter, another hash seed) finds this image.
    code = "from socklab.swarm.node_image import node_tag; print(node_tag())"
    other = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": "12345"}, capture_output=True, text=True
    )
    assert other.returncode == 0, other.stderr
    assert other.stdout.strip() == node_image.node_tag()
    assert node_image.node_tag().startswith(f"{node_image.REPOSITORY}:")


@pytest.mark.parametrize(
    ("name", "value"),
    [("PACKAGES", (*node_image.PACKAGES, "curl")), ("TRIM", ()), ("ENTRY_SCRIPT", "#!/bin/sh\nexec dockerd\n")],
)
def test_changing_the_recipe_changes_the_tag(monkeypatch: pytest.MonkeyPatch, name: str, value: object) -> None:
    before = node_image.node_tag()
    monkeypatch.setattr(node_image, name, value)
    assert node_image.node_tag() != before


def test_the_image_is_labelled_for_finding_and_runs_dockerd_under_tini() -> None:
    changes = node_image.import_changes("abc")
    assert 'LABEL io.socklab.purpose="swarm-node-image"' in changes
    assert 'LABEL io.socklab.node-recipe="abc"' in changes
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/socklab-node"]' in changes
    assert "VOLUME /var/lib/docker" in changes


def test_the_entry_script_makes_cgroups_writable_before_dockerd() -> None:
    script = node_image.ENTRY_SCRIPT
    assert script.index("remount,bind,rw") < script.index("exec dockerd")
    assert "--storage-driver overlay2" in script
