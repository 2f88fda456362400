"""A throwaway stage for one experiment: a labelled network and containers, all removed on the way out.

Containers run the probes (``python -m probes.NAME``) or any image; their output is JSON event lines,
read back from the logs. ``kernel()`` runs ``probes.kernel`` inside a container, so its numbers are that
container's namespaces. Everything carries this run's labels; ``close()`` removes it (Ctrl-C waits for
that), and socklab's reaper removes it if this process dies first, even by SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import warnings
from types import TracebackType
from typing import Any

import docker
import docker.errors
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

from socklab.lab import reaper
from socklab.lab.labels import LeftBehind, new_run_id, remove_run, run_labels
from socklab.lab.readiness import container_address, wait_for_log
from socklab.progress import Progress, quiet

# Ryuk (testcontainers' reaper) is an image from a registry; the stage removes its objects by label instead.
if "TESTCONTAINERS_RYUK_DISABLED" not in os.environ:
    testcontainers_config.ryuk_disabled = True


class ProbeFailed(RuntimeError):
    """A probe in a container failed or never said what we waited for; the message carries its output."""


def _values(output: str) -> list[Any]:
    return [json.loads(line)["value"] for line in output.splitlines() if line.startswith("{")]


class Stage:
    def __init__(self, experiment: str, *, probes_image: str | None = None, progress: Progress = quiet) -> None:
        self.experiment = experiment
        self.probes_image = probes_image
        self.progress = progress
        self.run_id = new_run_id()
        self.labels = run_labels(self.run_id, f"experiment-{experiment}")
        self.docker = docker.from_env()
        self.network: Network | None = None
        self.containers: list[DockerContainer] = []

    def __enter__(self) -> Stage:
        reaper.watch(self.run_id)  # from here on, even a SIGKILL of this process leaves nothing behind
        try:
            self.network = Network(docker_network_kw={"labels": self.labels})
            self.network.name = f"socklab-experiments-{self.experiment}-{self.run_id}"
            self.network.create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Remove the containers, then the network and the volumes: everything labelled with this run."""
        with reaper.interrupts_deferred():
            for container in self.containers:
                with contextlib.suppress(docker.errors.NotFound):
                    container.stop()
            try:
                remove_run(self.docker, self.run_id, images=False)
            except LeftBehind as exc:  # the engine refused under load: the reaper tries again at exit
                warnings.warn(str(exc), ResourceWarning, stacklevel=2)
                self.progress(f"warning: {exc}")
            else:
                reaper.done(self.run_id)
            self.docker.close()

    # --- making things ------------------------------------------------------------------------------
    def volume(self, role: str) -> str:
        name = f"socklab-experiments-{self.experiment}-{self.run_id}-{role}"
        self.docker.volumes.create(name, labels=self.labels)
        return name

    def start(
        self,
        role: str,
        command: list[str] | None = None,
        *,
        image: str | None = None,
        alias: str | None = None,
        env: dict[str, str] | None = None,
        networked: bool = True,
        mounts: dict[str, str] | None = None,
        **docker_kwargs: Any,
    ) -> DockerContainer:
        """Start a container (the probes image by default) on the stage's network, or on none at all.

        ``mounts`` maps a volume of this stage (see ``volume()``) to a path in the container.
        """
        assert self.network is not None
        image = image or self.probes_image
        assert image is not None, "a stage without the probes image needs an image for each container"
        container = DockerContainer(image)
        if networked:
            container.with_network(self.network)
        else:
            docker_kwargs["network_mode"] = "none"
        container = (
            container.with_envs(**(env or {}))
            .with_name(f"socklab-experiments-{self.experiment}-{self.run_id}-{role}")
            .with_kwargs(labels=self.labels, **docker_kwargs)
        )
        for volume, path in (mounts or {}).items():
            container.with_volume_mapping(volume, path, "rw")
        if alias:
            container.with_network_aliases(alias)
        if command is not None:
            container.with_command(command)
        self.containers.append(container)
        container.start()
        self.progress(f"{role}: {image} {' '.join(command or [])}")
        return container

    def address(self, container: DockerContainer) -> str:
        assert self.network is not None
        container.reload()
        return container_address(container, self.network.name)

    # --- reading them -------------------------------------------------------------------------------
    def output(self, container: DockerContainer) -> str:
        out, err = container.get_logs()
        return (out + err).decode(errors="replace")

    def events(self, container: DockerContainer, name: str | None = None) -> list[dict[str, Any]]:
        """The JSON event lines a probe printed so far (only those called ``name``, if given)."""
        out, _err = container.get_logs()
        found = []
        for line in out.decode(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    event = json.loads(line)
                    if name is None or event.get("event") == name:
                        found.append(event)
        return found

    def wait_for_line(self, container: DockerContainer, pattern: str, timeout: float = 30) -> str:
        """Wait until a line of the container's output matches ``pattern`` (a regex); return that line.

        ProbeFailed, with the output, if it never comes or the container ends first.
        """
        regex = re.compile(pattern)
        try:
            wait_for_log(container, pattern, timeout)
        except Exception as exc:  # a timeout or an exited container: say what it printed
            if not regex.search(self.output(container)):  # else: printed, then exited between two looks
                name = container.get_wrapped_container().name
                raise ProbeFailed(f"{name} never printed {pattern!r}: {exc}\n{self.output(container)[-3000:]}") from exc
        return next(line for line in self.output(container).splitlines() if regex.search(line))

    def wait_for_listening(self, server: DockerContainer, where: str, image: str) -> str:
        """Wait for the lab server's "listening on" line and check that it listens on ``where``."""
        line = self.wait_for_line(server, r"listening on")
        if where not in line:
            raise ProbeFailed(
                f"{image} does not listen on {where}: {line.strip()!r}; an image built before the server had "
                "transports ignores SOCKLAB_TRANSPORT (rebuild it with `socklab images`)"
            )
        return line

    def wait_for_event(self, container: DockerContainer, name: str, timeout: float = 30) -> dict[str, Any]:
        """Wait until the probe prints the event ``name``; return the first one."""
        self.wait_for_line(container, re.escape(f'"event": "{name}"'), timeout)
        return self.events(container, name)[0]

    def exec(self, container: DockerContainer, command: list[str], *, user: str = "") -> str:
        result = container.get_wrapped_container().exec_run(command, user=user, demux=False)
        output = (result.output or b"").decode(errors="replace")
        if result.exit_code != 0:
            raise ProbeFailed(f"{' '.join(command)} exited {result.exit_code}: {output[-2000:]}")
        return output

    def kernel(self, container: DockerContainer, what: str, *args: str) -> list[Any]:
        """``probes.kernel`` in the container: one value per sample (see its ``--samples``)."""
        output = self.exec(container, ["python", "-m", "probes.kernel", what, *args])
        return _values(output)

    def observe(self, target: DockerContainer, what: str, *args: str) -> list[Any]:
        """``probes.kernel`` in ``target``'s network namespace, from a probes sidecar.

        For any image, even one without Python (the C server): ``/proc/net`` is the reader's network
        namespace, so the sidecar reads the target's counters and sockets. It needs no capabilities.
        """
        assert self.probes_image is not None
        sidecar = self.docker.containers.run(
            self.probes_image,
            ["probes.kernel", what, *args],
            network_mode=f"container:{target.get_wrapped_container().id}",
            labels=self.labels,
            detach=True,
        )
        try:
            status = sidecar.wait(timeout=60)["StatusCode"]
            output = sidecar.logs().decode(errors="replace")
        finally:
            sidecar.remove(force=True)
        if status != 0:
            raise ProbeFailed(f"probes.kernel {what} beside {target.get_wrapped_container().name}: {output[-2000:]}")
        return _values(output)

    def signal(self, container: DockerContainer, name: str) -> None:
        container.get_wrapped_container().kill(signal=name)
