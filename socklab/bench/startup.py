"""Lab start-up, measured once for both `socklab bench` and `socklab bench startup`: image sizes, ``docker
run`` to the first answer, Docker's floor (``python3 -c pass`` in socklab/base), compose up to N answers."""

from __future__ import annotations

import contextlib
import statistics
import time
import uuid
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors

from socklab.bench.stage import Stage
from socklab.bench.tables import ImageLog, free_local_port, stdout_to_stderr
from socklab.images.rootfs import BASE_TAG
from socklab.lab.demo import run_demo
from socklab.lab.lab import PORT
from socklab.lab.topology import Node
from socklab.load.python_load import exchange
from socklab.load.stats import Spread
from socklab.wire.compose import ComposeVariables
from socklab.wire.config import ServerConfig

POLL_SECONDS = 0.01  # between connection attempts while the server starts; small against the ~0.5 s measured
FLOOR = "floor: python3 -c pass"


@dataclass(frozen=True)
class StartupRow:
    """One start-up figure over its runs: what was started (and from which image), each run's seconds."""

    what: str
    seconds: list[float]
    ok: bool = True
    note: str = ""
    image: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    @property
    def spread(self) -> Spread:
        return Spread.of(self.seconds)

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "seconds": self.seconds, "median": self.median, "ok": self.ok, "note": self.note}


def image_sizes(client: docker.DockerClient, tags: list[str]) -> dict[str, float]:
    """``docker image inspect`` Size in MB (10^6 bytes, as ``docker images`` counts); NaN when missing."""
    sizes = {}
    for tag in tags:
        try:
            sizes[tag] = client.images.get(tag).attrs["Size"] / 1e6
        except docker.errors.ImageNotFound:
            sizes[tag] = float("nan")
    return sizes


def run_to_first_answer(stage: Stage, version: str, timeout: float = 30.0, images: ImageLog | None = None) -> float:
    """Seconds from ``docker run`` (create + start) to the first 'B' on the bench network."""
    # No hardening (Node's default, UNRESTRICTED): the row is what a plain `docker run` costs, without the
    # lab's tmpfs mounts and limits.
    node = Node(stage.lab.new_role(f"start-{version}"), stage.image(version), ServerConfig(delay=0).to_env())
    started = time.perf_counter()
    container = stage.lab.add(node)
    try:
        address = container.address()
        deadline = started + timeout
        while time.perf_counter() < deadline:
            with contextlib.suppress(OSError):
                exchange(address, PORT, timeout=1.0)
                elapsed = time.perf_counter() - started
                if images is not None:
                    images.note(version, str(container.sdk.attrs["Image"]))
                return elapsed
            time.sleep(POLL_SECONDS)
        raise TimeoutError(f"{version}: no answer within {timeout:g} s")
    finally:
        stage.lab.remove(container)


def floor(stage: Stage, timeout: float = 30.0) -> float:
    """Seconds from ``docker run`` to the exit of ``python3 -c pass`` in socklab/base: Docker's and Python's
    own start, with no server in it at all (what is above it is the server's own start)."""
    node = Node(stage.lab.new_role("floor"), BASE_TAG, command=("python3", "-c", "pass"))
    started = time.perf_counter()
    run = stage.lab.run_once(node, timeout=timeout)
    elapsed = time.perf_counter() - started
    if run.exit_code != 0:
        raise RuntimeError(f"python3 -c pass exited {run.exit_code}: {run.stderr[-300:]}")
    return elapsed


def compose_up(stage: Stage, clients: int, delay: float = 0.0, *, server: str = "fork") -> StartupRow:
    """``docker compose up --scale client=N`` (images already built) until every client answered."""
    env = {
        **ServerConfig(delay=delay).to_env(),
        **ComposeVariables(
            host_port=free_local_port(),
            server_image=stage.image(server),
            client_image=f"{stage.image_prefix}/client:latest",
        ).to_env(),
    }
    # The run id in the name: what compose makes carries compose's labels, not socklab's, so the name is
    # what ties it to this run (e.g. for a test that accounts for everything a command made).
    project = f"socklab-bench-{stage.run_id}-{uuid.uuid4().hex[:4]}"
    with stdout_to_stderr():
        result = run_demo(clients=clients, project=project, env=env, timeout=60.0 + clients + delay)
    answered = sum("char from server = B" in a.line for a in result.answers)
    ok = result.ok and answered == clients
    return StartupRow(f"compose up → {clients} answered", [result.seconds], ok, "" if ok else f"{answered}/{clients}")
