"""The probes' view of an empty ``Lab``: start probe containers, read their JSON events and kernel numbers.

Containers run the probes (``python -m probes.NAME``) or any image; their output is JSON event lines,
read back from the logs. ``kernel()`` runs ``probes.kernel`` inside a container, so its numbers are that
container's namespaces; ``observe()`` reads them from a sidecar in the container's network namespace (its
sockets from netlink, as ``--kernel`` samples them).
Running the containers (labels, volumes, networks, cleanup, the reaper) is the ``Lab``'s job.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from socklab.kernel.sockets import read_sockets
from socklab.lab.client_run import ClientRun
from socklab.lab.containers import LabContainer
from socklab.lab.lab import Lab
from socklab.lab.layer import OnLab
from socklab.lab.sidecar import tools_image
from socklab.lab.topology import LAB_NETWORK, Node
from socklab.progress import Progress, quiet
from socklab.wire.config import ServerConfig


class ProbeFailed(RuntimeError):
    """A probe in a container failed or never said what we waited for; the message carries its output."""


def _with_old_names(row: dict[str, Any]) -> dict[str, Any]:
    """A socket row with the names ``probes.kernel sockets`` used too: remote, rx_queue, tx_queue."""
    unbound = "[::]:0" if row["local"].startswith("[") else "0.0.0.0:0"
    return {**row, "remote": row["peer"] or unbound, "rx_queue": row["recv_q"], "tx_queue": row["send_q"] or 0}


def _values(output: str) -> list[Any]:
    return [json.loads(line)["value"] for line in output.splitlines() if line.startswith("{")]


class Stage(OnLab):
    """``with Stage("zombies", probes_image=…) as stage: server = stage.start("server", ["probes.server"])``."""

    def __init__(self, experiment: str, *, probes_image: str | None = None, progress: Progress = quiet) -> None:
        self.experiment = experiment
        self.probes_image = probes_image
        self.progress = progress
        super().__init__(Lab(server_image=None, purpose=f"experiment-{experiment}", progress=progress))

    # --- making things ------------------------------------------------------------------------------
    def node(
        self,
        role: str,
        command: Sequence[str] | None = None,
        *,
        image: str | None = None,
        alias: str | None = None,
        env: Mapping[str, str] | None = None,
        networked: bool = True,
        beside: LabContainer | None = None,
        volumes: Mapping[str, str] | None = None,
        **docker_kwargs: Any,
    ) -> Node:
        """A container of the probes image (by default) on the lab network, on none at all, or ``beside``
        another container of the stage, in its network namespace (another process on the same host).

        ``volumes`` maps a volume's role (made, labelled, on first use) to a path in the container;
        ``docker_kwargs`` are further docker SDK keywords (``sysctls``, ``healthcheck``…).
        """
        image = image or self.probes_image
        if image is None:
            raise ValueError("a stage without the probes image needs an image for each container")
        return Node(
            role,
            image,
            dict(env or {}),
            aliases=(alias,) if alias else (),
            network=LAB_NETWORK if networked else None,
            shares_network_with=None if beside is None else beside.node.role,
            volumes=dict(volumes or {}),
            command=None if command is None else tuple(command),
            extra=docker_kwargs,
        )

    def start(self, role: str, command: Sequence[str] | None = None, **options: Any) -> LabContainer:
        """Start a container (see ``node()`` for the options) and leave it running."""
        node = self.node(role, command, **options)
        container = self.lab.add(node)
        self.progress(f"{role}: {node.image} {' '.join(command or [])}")
        return container

    def run_once(self, role: str, command: Sequence[str] | None = None, **options: Any) -> ClientRun:
        """Run a container to its end (see ``node()``); its exit code and output, the container removed."""
        return self.lab.run_once(self.node(role, command, **options))

    # --- reading them -------------------------------------------------------------------------------
    def events(self, container: LabContainer, name: str | None = None) -> list[dict[str, Any]]:
        """The JSON event lines a probe printed so far (only those called ``name``, if given)."""
        out, _err = container.stdout_and_stderr()
        return self.events_of(out, name)

    @staticmethod
    def events_of(output: str, name: str | None = None) -> list[dict[str, Any]]:
        """The JSON event lines in a probe's output (a ``run_once``'s stdout), only ``name``'s if given."""
        found = []
        for line in output.splitlines():
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    event = json.loads(line)
                    if name is None or event.get("event") == name:
                        found.append(event)
        return found

    def _wait(self, container: LabContainer, pattern: str, timeout: float, what: str) -> None:
        try:
            container.wait_for_log(pattern, timeout)
        except Exception as exc:  # a timeout or an exited container: say what it printed
            raise ProbeFailed(f"{container.name} never printed {what}: {exc}\n{container.logs()[-3000:]}") from exc

    def wait_for_line(self, container: LabContainer, pattern: str, timeout: float = 30) -> str:
        """Wait until a line of the container's output matches ``pattern`` (a regex); return that line.

        ProbeFailed, with the output, if it never comes or the container ends first.
        """
        self._wait(container, pattern, timeout, repr(pattern))
        regex = re.compile(pattern)
        return next(line for line in container.logs().splitlines() if regex.search(line))

    def wait_for_listening(self, server: LabContainer, where: str, image: str) -> str:
        """Wait for the lab server's "listening on" line and check that it listens on ``where``."""
        line = self.wait_for_line(server, r"listening on")
        if where not in line:
            raise ProbeFailed(
                f"{image} does not listen on {where}: {line.strip()!r}; an image built before the server had "
                f"transports ignores {ServerConfig.variable('transport')} (rebuild it with `socklab images`)"
            )
        return line

    def wait_for_event(self, container: LabContainer, name: str, timeout: float = 30) -> dict[str, Any]:
        """Wait until the probe prints the event ``name``; return the first one."""
        self.wait_for_line(container, re.escape(f'"event": "{name}"'), timeout)
        return self.events(container, name)[0]

    def wait_for_events(
        self, container: LabContainer, name: str, count: int, timeout: float = 30
    ) -> list[dict[str, Any]]:
        """Wait until the probe has printed the event ``name`` ``count`` times; return them all."""
        one = re.escape(f'"event": "{name}"')
        self._wait(container, f"(?s)(?:{one}.*?){{{count}}}", timeout, f"{count} {name!r} events")
        return self.events(container, name)

    def kernel(self, container: LabContainer, what: str, *args: str) -> list[Any]:
        """``probes.kernel`` in the container: one value per sample (see its ``--samples``)."""
        command = ["python", "-m", "probes.kernel", what, *args]
        status, output = container.exec(command)
        if status != 0:
            raise ProbeFailed(f"{' '.join(command)} exited {status}: {output[-2000:]}")
        return _values(output)

    def observe(self, target: LabContainer, what: str, *args: str) -> list[Any]:
        """What the kernel says of ``target``'s network namespace, read from a sidecar in it: one value a sample.

        ``sockets`` (``[PORT] [--samples N --interval S]``): its TCP sockets from netlink INET_DIAG, the one
        sampler ``--kernel`` uses too (``observer.sockets``: key, local, peer, state, recv_q, send_q, backlog,
        rtt_ms, cwnd, retrans, conn; and remote, rx_queue, tx_queue, the names ``probes.kernel`` gave them
        when it read /proc/net/tcp), in a tools sidecar: one container a call, so sample in one call. The rest
        (``counters``, ``unix``…) from ``probes.kernel`` in a probes sidecar: ``/proc/net`` is the reader's
        network namespace. For any image, even one without Python (the C server); neither needs a capability.
        """
        if what == "sockets":
            samples = read_sockets(self.lab, target, *args, image=tools_image(self.lab.docker, self.progress))
            return [[_with_old_names(row) for row in rows] for rows in samples]
        if self.probes_image is None:
            raise ValueError("observe() needs the probes image")
        sidecar = Node(
            self.lab.new_role(f"observe-{target.node.role}"),
            self.probes_image,
            command=("probes.kernel", what, *args),
            shares_network_with=target.node.role,
        )
        run = self.lab.run_once(sidecar)
        if run.exit_code != 0:
            raise ProbeFailed(f"probes.kernel {what} beside {target.name}: {(run.stdout + run.stderr)[-2000:]}")
        return _values(run.stdout)
