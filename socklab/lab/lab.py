"""A throwaway lab: one network, one server under the alias ``server``, client containers on demand.

Resources are context managers (testcontainers' ``Network`` and ``DockerContainer``); everything carries
this run's labels, and leaving the ``Lab`` removes it all, also after a failure or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType

import docker
import docker.errors
import requests
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

from client.main import GO_SIGNAL, READY_LINE
from socklab.analysis.verdict import Interval, Verdict, judge
from socklab.lab.labels import new_run_id, remove_run, run_labels
from socklab.lab.readiness import ConnectWaitStrategy, container_address, wait_for_log
from socklab.progress import Progress, quiet

# Ryuk (testcontainers' reaper) is an image from a registry; socklab removes its objects by label instead.
if "TESTCONTAINERS_RYUK_DISABLED" not in os.environ:
    testcontainers_config.ryuk_disabled = True

SERVER_ALIAS = "server"
PORT = 9736
START_WORKERS = 8  # parallel `docker start` calls; more only queue inside dockerd (measured: ~4 starts/s)


CLASSIC_LINE = re.compile(r"char from server = (.)")


@dataclass(frozen=True)
class ClientRun:
    """One client container's run: exit code, output, and the ``--json`` line of each exchange it made."""

    name: str
    exit_code: int
    stdout: str
    stderr: str

    @property
    def results(self) -> list[dict]:
        """Every JSON result line (one per exchange; a client that is not ours prints none)."""
        found = []
        for line in self.stdout.splitlines():
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    found.append(json.loads(line))
        return found

    @property
    def result(self) -> dict | None:
        results = self.results
        return results[-1] if results else None

    @property
    def received(self) -> str | None:
        """The answer's character: from the JSON result, or from the classic line of any client."""
        if self.result:
            return self.result.get("received")
        match = CLASSIC_LINE.search(self.stdout)
        return match[1] if match else None

    @property
    def interval(self) -> Interval | None:
        r = self.result
        if not r or r.get("connected_at") is None or r.get("answered_at") is None or r.get("outcome") != "ok":
            return None
        return Interval(r.get("host") or self.name, r["connected_at"], r["answered_at"])

    def describe(self) -> str:
        return f"{self.name} exited {self.exit_code}: {(self.stdout + self.stderr).strip()[-500:]}"


@dataclass
class Lab:
    """``with Lab(server_image=…, client_image=…, delay=…) as lab: lab.run_clients(3)``."""

    server_image: str
    client_image: str
    delay: float = 5.0
    port: int = PORT
    run_id: str = field(default_factory=new_run_id)
    purpose: str = "lab"
    server_env: dict[str, str] = field(default_factory=dict)
    startup_timeout: float = 30.0
    progress: Progress = quiet

    def __post_init__(self) -> None:
        self.labels = run_labels(self.run_id, self.purpose)
        self.docker = docker.from_env()
        self.network: Network | None = None
        self.server: DockerContainer | None = None
        self._clients_started = 0
        self.client_runs: list[ClientRun] = []  # every client run so far, in start order
        self._live_clients: list[DockerContainer] = []
        self._retired_servers: list[DockerContainer] = []

    # --- life cycle ---------------------------------------------------------------------------------
    def __enter__(self) -> Lab:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> None:
        self.network = Network(docker_network_kw={"labels": self.labels})
        self.network.name = f"socklab-{self.run_id}"
        self.network.create()
        self.progress(f"network {self.network.name}; starting server {self.server_image}")
        self.start_server(self.server_image)

    def start_server(self, image: str, *, name_suffix: str = "server") -> DockerContainer:
        """Start a server container under the alias ``server`` and wait until it accepts a connection."""
        assert self.network is not None
        env = {"SOCKLAB_DELAY": f"{self.delay:g}", "SOCKLAB_PORT": str(self.port), **self.server_env}
        container = (
            DockerContainer(image)
            .with_network(self.network)
            .with_network_aliases(SERVER_ALIAS)
            .with_envs(**env)
            .with_name(f"socklab-{self.run_id}-{name_suffix}")
            .with_kwargs(labels=self.labels)
            .waiting_for(ConnectWaitStrategy(self.port, self.network.name).with_startup_timeout(self.startup_timeout))
        )
        if self.server is not None:
            self._retired_servers.append(self.server)  # replaced (see swap); removed at close()
        self.server = container
        container.start()
        self.progress(f"server {image} accepts connections at {self.server_address()}:{self.port}")
        return container

    def close(self) -> None:
        """Remove the clients, the servers and the network; then anything else labelled with this run."""
        self._remove_clients(self._live_clients)
        for server in [*self._retired_servers, self.server]:
            if server is not None and server._container is not None:
                with contextlib.suppress(docker.errors.NotFound):
                    server.stop()
        if self.network is not None and self.network._network is not None:
            with contextlib.suppress(docker.errors.NotFound):
                self.network.remove()
        remove_run(self.docker, self.run_id)
        self.docker.close()

    # --- what a test or the CLI asks of it ----------------------------------------------------------
    def server_address(self) -> str:
        """The server container's address on the lab network (reachable from the host on Linux)."""
        assert self.server is not None and self.network is not None
        self.server.reload()
        return container_address(self.server, self.network.name)

    def server_logs(self) -> str:
        assert self.server is not None
        out, err = self.server.get_logs()
        return (out + err).decode(errors="replace")

    def wait_for_server_log(self, pattern: str, timeout: float = 30) -> None:
        """Wait until the server's log matches ``pattern`` (a regex); fail if it exits first."""
        assert self.server is not None
        wait_for_log(self.server, pattern, timeout)

    def stop_server(self, timeout: float = 15) -> int:
        """``docker stop`` the server (SIGTERM, then SIGKILL after ``timeout``); return its exit code."""
        assert self.server is not None
        wrapped = self.server.get_wrapped_container()
        wrapped.stop(timeout=int(timeout))
        wrapped.reload()
        return int(wrapped.attrs["State"]["ExitCode"])

    def has_start_barrier(self, image: str) -> bool:
        """Whether the client image is ours in Python, whose clients can wait for a go signal."""
        labels = self.docker.images.get(image).labels or {}
        return labels.get("io.socklab.role") == "client" and labels.get("io.socklab.impl") == "python"

    def start_clients(
        self,
        count: int,
        *,
        char: str = "A",
        env: dict[str, str] | None = None,
        image: str | None = None,
        together: bool | None = None,
    ) -> list[DockerContainer]:
        """Start ``count`` client containers (``START_WORKERS`` ``docker start`` calls in flight).

        ``together`` (the default for our Python client): each client waits at a start barrier until
        every one of them is up, then all connect at one signal. dockerd starts only a few containers a
        second here, so without it 50 clients would arrive over many seconds, not at once.
        """
        assert self.network is not None
        image = image or self.client_image
        together = self.has_start_barrier(image) if together is None else together
        first = self._clients_started
        self._clients_started += count
        barrier = {"SOCKLAB_WAIT_FOR_GO": "true"} if together else {}
        containers = [
            DockerContainer(image)
            .with_network(self.network)
            .with_envs(SOCKLAB_JSON="true", SOCKLAB_CHAR=char, SOCKLAB_PORT=str(self.port), **barrier, **(env or {}))
            .with_name(f"socklab-{self.run_id}-client-{first + k + 1}")
            .with_kwargs(labels=self.labels)
            for k in range(count)
        ]
        self._live_clients.extend(containers)
        started = 0

        def start(container: DockerContainer) -> None:
            nonlocal started
            container.start()
            started += 1
            if started % 10 == 0 or started == count:
                self.progress(f"started {started}/{count} clients")

        with ThreadPoolExecutor(START_WORKERS) as pool:
            list(pool.map(start, containers))
            if together:
                list(pool.map(self._wait_ready, containers))
                list(pool.map(lambda c: c.get_wrapped_container().kill(signal=GO_SIGNAL.name), containers))
                self.progress(f"all {count} clients released at once")
        return containers

    def _wait_ready(self, container: DockerContainer) -> None:
        wait_for_log(container, re.escape(READY_LINE), timeout=60)

    def collect(self, containers: list[DockerContainer], timeout: float | None = None) -> list[ClientRun]:
        """Wait until each client exits (killing it after ``timeout``), read its output, remove it."""
        timeout = timeout or (30 + self.delay * 2 + 30)
        runs = []
        try:
            for container in containers:
                runs.append(self._collect(container, timeout))
                if len(runs) % 10 == 0 or len(runs) == len(containers):
                    self.progress(f"{len(runs)}/{len(containers)} clients exited")
        finally:
            self._remove_clients(containers)
        self.client_runs.extend(runs)
        return runs

    def run_clients(
        self,
        count: int,
        *,
        char: str = "A",
        env: dict[str, str] | None = None,
        image: str | None = None,
        timeout: float | None = None,
        together: bool | None = None,
    ) -> list[ClientRun]:
        """Start ``count`` client containers at once, wait until each exits, collect and remove them."""
        # If starting fails, the clients already started stay in _live_clients for close() to remove.
        containers = self.start_clients(count, char=char, env=env, image=image, together=together)
        return self.collect(containers, timeout)

    def _remove_clients(self, containers: list[DockerContainer]) -> None:
        for container in list(containers):
            if container._container is not None:
                with contextlib.suppress(docker.errors.NotFound):
                    container.stop()
            if container in self._live_clients:
                self._live_clients.remove(container)

    def _collect(self, container: DockerContainer, timeout: float) -> ClientRun:
        wrapped = container.get_wrapped_container()
        try:
            exit_code = int(wrapped.wait(timeout=timeout)["StatusCode"])
        except requests.exceptions.RequestException:  # the docker SDK's read timeout
            wrapped.kill()
            exit_code = -1
        out, err = container.get_logs()
        stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
        return ClientRun(wrapped.name, exit_code, stdout, stderr)


@dataclass(frozen=True)
class LabReport:
    server_image: str
    client_image: str
    delay: float
    runs: list[ClientRun]
    verdict: Verdict
    server_log: str


def run_lab(
    *,
    clients: int,
    server_image: str,
    client_image: str,
    delay: float = 5.0,
    progress: Progress = quiet,
) -> LabReport:
    """Start a lab, run ``clients`` clients at once, judge the run, remove everything."""
    with Lab(server_image=server_image, client_image=client_image, delay=delay, progress=progress) as lab:
        runs = lab.run_clients(clients)
        intervals = [run.interval for run in runs if run.interval is not None and run.exit_code == 0]
        verdict = judge(intervals, clients=clients, delay=delay)
        return LabReport(server_image, client_image, delay, runs, verdict, lab.server_logs())
