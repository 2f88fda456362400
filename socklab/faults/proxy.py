"""The impairment proxy in a lab: latency, jitter, slicing and stalls where the kernel has no netem.

A container (``socklab/base`` running ``agents/impair/``) takes the alias ``server`` on the lab's network and
forwards to the real server, which is reconnected without that alias for as long as the proxy stands.
Clients keep dialling ``server`` and go through it; undoing puts the alias back on the real server.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import docker.errors

from socklab.faults.record import Fault, FaultNotUndone, FaultRecord
from socklab.images.rootfs import BASE_TAG
from socklab.lab.containers import LabContainer
from socklab.lab.lab import Lab
from socklab.lab.sidecar import AGENT_HOME
from socklab.lab.topology import SERVER as SERVER_ALIAS
from socklab.lab.topology import Hardening, Node
from socklab.paths import ROOT

READY = r"impair: listening on"
# Not the lab's read-only root: the proxy is ours and tiny, and needs nothing but its one port.
PROXY_HARDENING = Hardening(read_only=False, pids_limit=None, mem_limit=None)


class ImpairmentProxy(Fault):
    """``with ImpairmentProxy(lab, latency_ms=100, jitter_ms=20) as record: ...`` (Toxiproxy's toxic names)."""

    name = "latency"

    def __init__(
        self,
        lab: Lab,
        *,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        slice_average: int = 0,
        slice_variation: int = 0,
        slice_delay_us: int = 0,
        timeout_ms: float | None = None,
        streams: tuple[str, ...] = ("downstream",),
        image: str = BASE_TAG,
        seconds: float | None = None,
    ) -> None:
        super().__init__(seconds=seconds)
        self.lab = lab
        self.image = image
        self.toxics: dict[str, Any] = {
            "latency-ms": latency_ms,
            "jitter-ms": jitter_ms,
            "slice-average": slice_average,
            "slice-variation": slice_variation,
            "slice-delay-us": slice_delay_us,
        }
        if timeout_ms is not None:
            self.toxics["timeout-ms"] = timeout_ms
        self.streams = streams
        if slice_average and not latency_ms:
            self.name = "slicer"
        if timeout_ms is not None:
            self.name = "timeout"
        self.container: LabContainer | None = None

    def _reconnect_server(self, aliases: list[str] | None) -> None:
        assert self.lab.server is not None and self.lab.network is not None
        server = self.lab.server.sdk
        network = self.lab.docker.networks.get(self.lab.network.name)
        network.disconnect(server)
        network.connect(server, aliases=aliases)

    def apply(self) -> FaultRecord:
        assert self.lab.server is not None and self.lab.network is not None
        server = self.lab.server.sdk
        server.reload()
        args = [f"--{key}={value:g}" for key, value in self.toxics.items()]
        command = [
            "python3", "-m", "impair", f"--port={self.lab.port}", f"--upstream={server.name}:{self.lab.port}",
            *args, *(f"--stream={s}" for s in self.streams),
        ]  # fmt: skip
        node = Node(
            self.lab.new_role("impair"),
            self.image,
            env={"PYTHONPATH": AGENT_HOME, "PYTHONDONTWRITEBYTECODE": "1"},
            aliases=(SERVER_ALIAS,),
            command=tuple(command),
            hardening=PROXY_HARDENING,
            extra={"user": "10001", "working_dir": AGENT_HOME},
            copies={str(ROOT / "agents" / "impair"): AGENT_HOME},
        )
        try:
            # The alias moves: the real server answers to its container name only, the proxy to `server`.
            self._reconnect_server(aliases=None)
            self.container = self.lab.add(node)
            self.container.wait_for_log(READY, timeout=30)
        except BaseException:
            self._restore()
            raise
        toxics = self.container.logs().strip().splitlines()[-1]
        self.record = FaultRecord(
            fault=self.name,
            target=server.name,
            mechanism=f"impairment proxy under the alias `{SERVER_ALIAS}` ({toxics.split(' with ', 1)[-1]})",
            params={k.replace("-", "_"): v for k, v in self.toxics.items() if v},
            applied_at=time.time(),
        )
        return self.record

    def _restore(self) -> None:
        # The alias first, then the proxy drains (SIGTERM: it refuses new connections, finishes the ones
        # in flight): no exchange is cut and no client is sent to an address that is gone.
        self._reconnect_server(aliases=[SERVER_ALIAS])
        if self.container is not None:
            with contextlib.suppress(docker.errors.NotFound, RuntimeError):  # RuntimeError: it never started
                self.container.stop(timeout=15)
            self.lab.remove(self.container)
            self.container = None

    def undo(self) -> None:
        if self.record is None or self.record.undone_at is not None:
            return
        self._restore()
        self.record.undone_at = time.time()
        assert self.lab.server is not None and self.lab.network is not None
        server = self.lab.server.sdk
        server.reload()
        aliases = server.attrs["NetworkSettings"]["Networks"][self.lab.network.name].get("Aliases") or []
        self.record.verified = SERVER_ALIAS in aliases
        if not self.record.verified:
            raise FaultNotUndone(f"the server did not get the alias `{SERVER_ALIAS}` back: {aliases}")
