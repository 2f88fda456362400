from __future__ import annotations

import docker
import pytest

from socklab.experiments.image import ensure_probes_image
from socklab.lab.labels import run_labels
from socklab.progress import to_stderr


@pytest.fixture(scope="session")
def probes_image(docker_client: docker.DockerClient, session_id: str) -> str:
    """The experiments' instruments, built from this tree under the session's tag and labels."""
    return ensure_probes_image(
        docker_client,
        tag=f"socklab-test/probes:{session_id}",
        labels=run_labels(session_id, "test"),
        progress=to_stderr("tests"),
    )
