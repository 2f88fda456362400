"""`socklab bench --quick --json --output DIR` as a user runs it: stdout is one JSON document."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from socklab.images.build import ImageSet

pytestmark = [pytest.mark.lab, pytest.mark.slow]  # the unit test of --json runs by default


@pytest.fixture
def user_style_prefix(docker_client: docker.DockerClient, lab_images: ImageSet, session_id: str) -> Iterator[str]:
    """The session's images under the names the bench looks for (PREFIX/server:VERSION, PREFIX/loadgen:c,
    PREFIX/client:latest), in a repository prefix of this session's own; untagged after."""
    prefix = f"socklab-test-{session_id}".lower()
    sources = {f"server:{v}": tag for v, tag in lab_images.servers.items()}
    sources["client:latest"] = lab_images.client
    sources["loadgen:c"] = f"socklab-test/loadgen:{lab_images.session}-c"
    made = []
    for name, tag in sources.items():
        repository, version = name.split(":")
        docker_client.images.get(tag).tag(f"{prefix}/{repository}", version)
        made.append(f"{prefix}/{name}")
    try:
        yield prefix
    finally:
        for tag in made:
            with contextlib.suppress(docker.errors.ImageNotFound):
                docker_client.images.remove(tag)


def test_quick_json_prints_only_the_results_on_stdout(user_style_prefix: str, tmp_path: Path) -> None:
    command = ["bench", "--quick", "--json", "--output", str(tmp_path), "--versions", "epoll"]
    done = subprocess.run(
        [sys.executable, "-m", "socklab", *command, "--image-prefix", user_style_prefix],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )
    results = json.loads(done.stdout)  # the whole of stdout, and nothing else
    assert done.returncode == 0, done.stderr[-2000:]
    assert {r["version"] for r in results["rates"]} == {"c-epoll", "c-fork", "epoll"}
    assert all(r["per_second"] > 0 and r["cpu_us_per_connection"] > 0 for r in results["rates"])
    assert "| version |" in done.stderr  # the table went to stderr
    assert json.loads((tmp_path / "bench.json").read_text()) == results
