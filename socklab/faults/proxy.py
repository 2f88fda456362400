"""The impairment proxy in a lab: latency, jitter, slicing and stalls where the kernel has no netem.

A container (``socklab/base`` running ``agents/impair/``) takes the alias ``server`` on the lab's network and
forwards to the real server, which is reconnected under the alias ``server-upstream`` for as long as the
proxy stands (a server swapped in meanwhile starts under that alias too). Clients keep dialling ``server``
and go through it; removing the proxy puts the alias back on the real server.

Two ways to use it: ``ImpairmentProxy`` is a fault of its own (the proxy goes in with its toxics and comes
out on undo: the reliability suite's latency row); ``ProxyStand`` keeps the proxy in the path for a whole
run (a scenario with a proxy fault) and ``ProxyToxic`` is one toxic set on it and cleared again through its
control port, as Toxiproxy's API does, without touching the path.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from typing import Any

import docker.errors

from socklab.faults.record import Fault, FaultError, FaultNotUndone, FaultRecord
from socklab.images.rootfs import BASE_TAG
from socklab.lab.containers import LabContainer
from socklab.lab.lab import Lab
from socklab.lab.sidecar import AGENT_HOME
from socklab.lab.topology import SERVER as SERVER_ALIAS
from socklab.lab.topology import UPSTREAM, Hardening, Node
from socklab.paths import ROOT

READY = r"impair: listening on"
CONTROL_PORT = 8474  # Toxiproxy's API port: the proxy's control port here
CONTROL_TIMEOUT = 5.0
# Not the lab's read-only root: the proxy is ours and tiny, and needs nothing but its ports.
PROXY_HARDENING = Hardening(read_only=False, pids_limit=None, mem_limit=None)
NO_TOXICS: dict[str, Any] = {}


def toxics_of(
    *,
    latency_ms: float = 0.0,
    jitter_ms: float = 0.0,
    slice_average: int = 0,
    slice_variation: int = 0,
    slice_delay_us: int = 0,
    timeout_ms: float | None = None,
    streams: tuple[str, ...] = ("downstream",),
) -> dict[str, Any]:
    """The toxics as the proxy's control port and command line take them (``agents/impair/toxics.py``)."""
    toxics: dict[str, Any] = {
        "latency_ms": latency_ms,
        "jitter_ms": jitter_ms,
        "slice_average": slice_average,
        "slice_variation": slice_variation,
        "slice_delay_us": slice_delay_us,
        "streams": list(streams),
    }
    if timeout_ms is not None:
        toxics["timeout_ms"] = timeout_ms
    return toxics


class ProxyStand:
    """The proxy in the lab's path: ``insert()``, ``set(toxics)`` any number of times, ``remove()``."""

    def __init__(self, lab: Lab, *, image: str = BASE_TAG, seed: int | None = None) -> None:
        self.lab = lab
        self.image = image
        self.seed = seed
        self.container: LabContainer | None = None
        self.said = ""  # what the proxy said it runs with

    def _reconnect_server(self, aliases: list[str]) -> None:
        assert self.lab.server is not None and self.lab.network is not None
        network = self.lab.docker.networks.get(self.lab.network.name)
        network.disconnect(self.lab.server.sdk)
        network.connect(self.lab.server.sdk, aliases=aliases)

    def insert(self, toxics: dict[str, Any] = NO_TOXICS) -> str:
        """Move the alias ``server`` to a new proxy with ``toxics``; what it says it runs with."""
        args = [f"--{key.replace('_', '-')}={value:g}" for key, value in toxics.items() if key != "streams"]
        streams = [f"--stream={stream}" for stream in toxics.get("streams", ())]
        seed = [] if self.seed is None else [f"--seed={self.seed}"]
        command = [
            "python3", "-m", "impair", f"--port={self.lab.port}", f"--upstream={UPSTREAM}:{self.lab.port}",
            f"--control-port={CONTROL_PORT}", *seed, *args, *streams,
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
            # The alias moves: the real server answers to `server-upstream`, the proxy to `server`.
            self._reconnect_server([UPSTREAM])
            self.container = self.lab.add(node)
            self.container.wait_for_log(READY, timeout=30)
        except BaseException:
            self.remove()
            raise
        self.said = self.container.logs().strip().splitlines()[-1].split(" with ", 1)[-1]
        return self.said

    def set(self, toxics: dict[str, Any]) -> str:
        """Set the toxics now (``{}``: none), through the control port; what the proxy runs with after."""
        if self.container is None:
            raise FaultError("the impairment proxy is not in the path")
        with socket.create_connection((self.container.address(), CONTROL_PORT), timeout=CONTROL_TIMEOUT) as conn:
            conn.sendall(json.dumps({"toxics": toxics}).encode() + b"\n")
            answer = json.loads(conn.makefile("rb").readline() or b"{}")
        if not answer.get("ok"):
            raise FaultError(f"the impairment proxy refused {toxics}: {answer.get('error', 'no answer')}")
        self.said = str(answer["toxics"])
        return self.said

    def remove(self) -> None:
        """The alias back on the real server first, then the proxy drains (SIGTERM: it refuses new
        connections and finishes the ones in flight): nobody is cut, nobody sent to an address that is gone."""
        self._reconnect_server([SERVER_ALIAS])
        if self.container is not None:
            with contextlib.suppress(docker.errors.NotFound, RuntimeError):  # RuntimeError: it never started
                self.container.stop(timeout=15)
            self.lab.remove(self.container)
            self.container = None

    def server_has_alias(self) -> bool:
        assert self.lab.server is not None and self.lab.network is not None
        server = self.lab.server.sdk
        server.reload()
        return SERVER_ALIAS in (server.attrs["NetworkSettings"]["Networks"][self.lab.network.name].get("Aliases") or [])


def _name(toxics: dict[str, Any]) -> str:
    if "timeout_ms" in toxics:
        return "timeout"
    if toxics.get("slice_average") and not toxics.get("latency_ms"):
        return "slicer"
    return "latency"


def _params(toxics: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in toxics.items() if value and key != "streams"}


def _record(fault: ImpairmentProxy | ProxyToxic, stand: ProxyStand, mechanism: str) -> FaultRecord:
    """The record of a proxy fault just applied: on the lab's server, its toxics as parameters."""
    assert stand.lab.server is not None
    return FaultRecord(
        fault=fault.name,
        target=stand.lab.server.name,
        mechanism=mechanism,
        params=_params(fault.toxics),
        applied_at=time.time(),
    )


class ImpairmentProxy(Fault):
    """``with ImpairmentProxy(lab, latency_ms=100, jitter_ms=20) as record: ...``: the proxy goes in with its
    toxics (Toxiproxy's names) and comes out on undo."""

    def __init__(self, lab: Lab, *, image: str = BASE_TAG, seconds: float | None = None, **toxics: Any) -> None:
        super().__init__(seconds=seconds)
        self.toxics = toxics_of(**toxics)
        self.name = _name(self.toxics)
        self.stand = ProxyStand(lab, image=image)

    def apply(self) -> FaultRecord:
        said = self.stand.insert(self.toxics)
        self.record = _record(self, self.stand, f"impairment proxy under the alias `{SERVER_ALIAS}` ({said})")
        return self.record

    def undo(self) -> None:
        if self.record is None or self.record.undone_at is not None:
            return
        self.stand.remove()
        self.record.undone_at = time.time()
        self.record.verified = self.stand.server_has_alias()
        if not self.record.verified:
            raise FaultNotUndone(f"the server did not get the alias `{SERVER_ALIAS}` back")


class ProxyToxic(Fault):
    """One toxic on a standing proxy (``ProxyStand``): set on apply, cleared on undo; the path stays."""

    def __init__(self, stand: ProxyStand, name: str, toxics: dict[str, Any], *, seconds: float | None = None) -> None:
        super().__init__(seconds=seconds)
        self.stand = stand
        self.name = name
        self.toxics = toxics

    def apply(self) -> FaultRecord:
        said = self.stand.set(self.toxics)
        mechanism = f"impairment proxy's {self.name} toxic, set through its control port ({said})"
        self.record = _record(self, self.stand, mechanism)
        return self.record

    def undo(self) -> None:
        if self.record is None or self.record.undone_at is not None:
            return
        self.record.undone_because = self.record.undone_because or "the holder asked"
        said = self.stand.set(NO_TOXICS)
        self.record.undone_at = time.time()
        self.record.verified = said.startswith("no toxics")
        if not self.record.verified:
            raise FaultNotUndone(f"the proxy still runs {said}")
