"""The Lab's part in ``--kernel``: its kernel streams (``socklab.kernel``) started with it, told of each container
it starts and removes, closed before it removes the rest.

A mixin of ``Lab`` (lab.py), which owns the containers. Everything here is a no-op unless the lab observes the
kernel: ``Lab(kernel=True)``, or ``kernel=None`` (the default) while a run recorded with ``--kernel`` is active
(``Recorder.kernel``). Without a recorder there is nowhere for the streams to go, so nothing is observed.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, cast

import docker
import docker.errors

from socklab.events.recorder import Recorder
from socklab.lab.containers import LabContainer
from socklab.progress import Progress

if TYPE_CHECKING:
    from socklab.kernel.streams import KernelStreams
    from socklab.lab.lab import Lab


class LabKernel:
    """What ``Lab`` does for ``--kernel``."""

    # Set by Lab.__post_init__.
    kernel: bool | None
    own_network: bool
    docker: docker.DockerClient
    progress: Progress
    _recorder: Recorder | None
    _kernel_streams: KernelStreams | None

    @property
    def observes_kernel(self) -> bool:
        """Whether this lab's hosts' sockets and packets and its servers' system calls are recorded."""
        if self._recorder is None:
            return False
        if self.kernel is None:  # a lab of sidecars over others' containers (a fault's) observes nothing unasked
            return self._recorder.kernel and self.own_network
        return self.kernel

    def _start_kernel(self, probes_from: frozenset[str]) -> None:
        if not self.observes_kernel:
            return
        from socklab.kernel.streams import KernelStreams
        from socklab.lab.sidecar import tools_image

        image = tools_image(self.docker, self.progress)
        self.progress(f"kernel: observing this lab's sockets, packets and server system calls ({image})")
        self._kernel_streams = KernelStreams(cast("Lab", self), image=image).start(probes_from)

    def kernel_server_env(self) -> dict[str, str]:
        """A server's environment under observation: it waits for its tracer before socket()."""
        return {} if self._kernel_streams is None else self._kernel_streams.server_env()

    def _kernel_started(self, container: LabContainer) -> None:
        if self._kernel_streams is not None:
            self._kernel_streams.started(container)

    def _kernel_restarted(self, role: str, container_id: str) -> None:
        if self._kernel_streams is not None:
            self._kernel_streams.restarted(role, container_id)

    def _kernel_removed(self, container: LabContainer) -> None:
        if self._kernel_streams is not None:
            self._kernel_streams.removed(container)

    def _close_kernel(self) -> None:
        if self._kernel_streams is not None:
            streams, self._kernel_streams = self._kernel_streams, None
            streams.close()

    def observe_started(self, role: str, container_id: str, *, server: bool) -> None:
        """A container this lab did not make started (the compose demo's, told by the engine's events): observe
        it as ``role``, from a thread of its own (the engine's events go on meanwhile)."""
        streams = self._kernel_streams
        if streams is None:
            return

        def observe() -> None:
            try:
                adopted = self.adopt(container_id, role=role)  # type: ignore[attr-defined]
            except docker.errors.NotFound:
                return  # gone again already
            streams.started(adopted, server=server)

        threading.Thread(target=observe, name=f"kernel-{role}", daemon=True).start()

    def trace_syscalls(self, container: LabContainer) -> None:
        """Trace ``container``'s processes too (the lab's servers are traced already); a no-op unless observed.

        For an experiment's own server: started with ``kernel_server_env()`` in its environment, one of our images
        waits for this tracer before its first socket."""
        if self._kernel_streams is not None:
            self._kernel_streams.trace(container)
