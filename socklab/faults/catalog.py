"""The one list of faults: each one's name, parameters, targets, how it is applied and undone, what a
client sees, and what the other tools of the field call it.

``socklab fault`` (a subcommand per entry), the reliability suite (``faults/suite.py``: which ones it runs
by default stays its choice, by these names), the pytest plugin's fault rows, the scenario schema
(``scenarios/schema.py``) and docs/faults.md all read ``FAULTS``. One spelling per fault and parameter:
socklab's own. ``make(params, site, seconds)`` gives the ``Fault`` (a context manager) for one target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import docker
from docker.models.containers import Container

from socklab.faults import network, process
from socklab.faults.params import (
    DisconnectParams,
    FaultParams,
    JitterParams,
    LatencyParams,
    LossParams,
    PartitionParams,
    RateParams,
    SlicerParams,
    StopParams,
    TimeoutParams,
)
from socklab.faults.proxy import ImpairmentProxy, ProxyStand, ProxyToxic, toxics_of
from socklab.faults.record import Fault, FaultError
from socklab.lab.containers import LabContainer
from socklab.lab.lab import Lab


class Via(StrEnum):
    """Where a fault is applied from."""

    SIDECAR = "sidecar"  # the fault agent in the target's network namespace (iptables, tc)
    DOCKER = "docker"  # the docker SDK (kill, stop, pause, network disconnect)
    PROXY = "proxy"  # the impairment proxy in front of the server (Toxiproxy's toxics)


@dataclass
class Site:
    """Where one fault lands: its target (a lab's container, or any container by SDK object or name), and
    what it may use there: the lab, a standing impairment proxy, the tools image."""

    target: LabContainer | Container | str
    client: docker.DockerClient
    lab: Lab | None = None
    proxy: ProxyStand | None = None
    tools: str | None = None

    def container(self) -> Container | str:
        """The target for the docker SDK."""
        return self.target.sdk if isinstance(self.target, LabContainer) else self.target

    def network(self, **kwargs: Any) -> dict[str, Any]:
        """The keywords of a network fault: in the lab when the target is one of its containers."""
        inside = self.lab is not None and isinstance(self.target, LabContainer)
        return {"lab": self.lab if inside else None, "client": self.client, "image": self.tools, **kwargs}


Maker = Callable[[Any, Site, float | None], Fault]


@dataclass(frozen=True)
class Equivalents:
    chaos_mesh: str
    toxiproxy: str
    pumba: str


@dataclass(frozen=True)
class FaultKind:
    name: str
    summary: str  # what it does, in one line (the CLI's help)
    params: type[FaultParams]
    via: Via
    targets: tuple[str, ...]  # "server", "client" (a lab's), "container" (any running one)
    mechanism: str  # how it is applied
    undo: str  # how it is undone
    client_sees: str
    equivalents: Equivalents
    make: Maker
    directions: tuple[str, ...] = ()  # what the kernel (or the proxy) lets it take: to, from, both
    downtime: bool = False  # ``for`` is how long the target is down (kill, stop, restart), not held

    def build(self, params: FaultParams, site: Site, seconds: float | None) -> Fault:
        if not isinstance(params, self.params):
            raise TypeError(f"{self.name} takes {self.params.__name__}, not {type(params).__name__}")
        return self.make(params, site, seconds)


STREAMS = {"to": ("upstream",), "from": ("downstream",), "both": ("upstream", "downstream")}
ANY = ("server", "client", "container")


def _proxy(name: str, toxics: dict[str, Any], site: Site, seconds: float | None, netem: Maker | None) -> Fault:
    """A proxy fault: a toxic on the standing proxy, else the proxy put in for it, else netem on a container."""
    if site.proxy is not None:
        return ProxyToxic(site.proxy, name, toxics, seconds=seconds)
    if site.lab is not None and site.lab.server is not None and site.target is site.lab.server:
        fault = ImpairmentProxy(site.lab, seconds=seconds, **toxics)
        fault.name = name
        return fault
    if netem is None:
        raise FaultError(
            f"{name} is a toxic of the impairment proxy, which stands in front of a socklab lab's server: "
            "use it in a scenario (socklab scenario run) or the reliability suite, not on a container"
        )
    return netem(None, site, seconds)


def _latency(p: LatencyParams, site: Site, seconds: float | None) -> Fault:
    toxics = toxics_of(latency_ms=p.ms, jitter_ms=p.jitter_ms, streams=STREAMS[p.direction])
    netem: Maker = lambda _p, s, t: network.netem_latency(  # noqa: E731
        s.container(), ms=p.ms, jitter_ms=p.jitter_ms, seconds=t, **s.network()
    )
    return _proxy("latency", toxics, site, seconds, netem)


def _jitter(p: JitterParams, site: Site, seconds: float | None) -> Fault:
    toxics = toxics_of(latency_ms=p.jitter_ms, jitter_ms=p.jitter_ms, streams=STREAMS[p.direction])
    netem: Maker = lambda _p, s, t: network.netem_latency(  # noqa: E731
        s.container(), ms=p.jitter_ms, jitter_ms=p.jitter_ms, seconds=t, **s.network()
    )
    return _proxy("jitter", toxics, site, seconds, netem)


def _slicer(p: SlicerParams, site: Site, seconds: float | None) -> Fault:
    toxics = toxics_of(
        slice_average=p.average_bytes,
        slice_variation=p.variation_bytes,
        slice_delay_us=p.delay_us,
        streams=STREAMS[p.direction],
    )
    return _proxy("slicer", toxics, site, seconds, None)


def _timeout(p: TimeoutParams, site: Site, seconds: float | None) -> Fault:
    return _proxy("timeout", toxics_of(timeout_ms=p.ms, streams=STREAMS[p.direction]), site, seconds, None)


def _net_target(site: Site) -> LabContainer | Container | str:
    return site.target if site.lab is not None and isinstance(site.target, LabContainer) else site.container()


FAULTS: dict[str, FaultKind] = {
    kind.name: kind
    for kind in (
        FaultKind(
            "loss",
            "drop a share of the packets at random (iptables statistic, from a sidecar)",
            LossParams,
            Via.SIDECAR,
            ANY,
            "iptables -m statistic --mode random --probability p -j DROP in a chain of its own (loopback spared)",
            "the agent deletes its chain and verifies the namespace against its snapshot",
            "every exchange still answered (TCP retransmits), slower; the kernel's retransmission timer shows",
            Equivalents("NetworkChaos action: loss", "— (a stream proxy: no packets to drop)", "pumba netem loss"),
            lambda p, s, t: network.loss(
                _net_target(s), percent=p.percent, direction=p.direction, seconds=t, **s.network()
            ),
            directions=("to", "from", "both"),
        ),
        FaultKind(
            "partition",
            "drop every packet: the peers see silence, not a refusal (iptables DROP, from a sidecar)",
            PartitionParams,
            Via.SIDECAR,
            ANY,
            "iptables -j DROP in a chain of its own (loopback spared)",
            "the agent deletes its chain and verifies the namespace",
            "silence: connects and answers wait on TCP's retransmission, then go through when it ends",
            Equivalents(
                "NetworkChaos action: partition", "proxy disabled (enabled: false)", "pumba iptables loss -p 1"
            ),
            lambda p, s, t: network.partition(_net_target(s), direction=p.direction, seconds=t, **s.network()),
            directions=("to", "from", "both"),
        ),
        FaultKind(
            "reset",
            "answer every incoming TCP segment with a reset (iptables REJECT tcp-reset, from a sidecar)",
            FaultParams,
            Via.SIDECAR,
            ANY,
            "iptables -p tcp -j REJECT --reject-with tcp-reset on input",
            "the agent deletes its chain and verifies the namespace",
            "connects refused at once, connections cut (ECONNRESET); the connect retry bridges it",
            Equivalents("— (HTTPChaos abort is the nearest)", "reset_peer", "—"),
            lambda p, s, t: network.reset(_net_target(s), seconds=t, **s.network()),
            directions=("to",),
        ),
        FaultKind(
            "rate",
            "limit what the target sends (tc tbf, from a sidecar)",
            RateParams,
            Via.SIDECAR,
            ANY,
            "tc qdisc add dev IF root handle 5c0c: tbf rate K kbit on every interface",
            "the agent deletes its qdiscs and verifies the namespace",
            "one-byte answers barely notice; bulk transfers slow to the rate",
            Equivalents("NetworkChaos action: bandwidth", "bandwidth", "pumba netem rate"),
            lambda p, s, t: network.rate(_net_target(s), kbit=p.kbit, seconds=t, **s.network()),
            directions=("from",),
        ),
        FaultKind(
            "latency",
            "delay the traffic (the impairment proxy in a lab; tc netem on a container, where the kernel has it)",
            LatencyParams,
            Via.PROXY,
            ("server", "container"),
            "the impairment proxy's latency toxic (Toxiproxy's), or tc netem delay M ms J ms",
            "the toxic is cleared (the proxy stays in the path) or the proxy removed; netem's qdisc deleted",
            "every answer later by the latency ± the jitter; nothing lost",
            Equivalents("NetworkChaos action: delay", "latency", "pumba netem delay"),
            _latency,
            directions=("to", "from", "both"),
        ),
        FaultKind(
            "jitter",
            "delay the traffic by a random amount (the impairment proxy; netem on a container where it exists)",
            JitterParams,
            Via.PROXY,
            ("server", "container"),
            "the proxy's latency toxic with latency = jitter (each chunk waits 0 to 2 x jitter), or netem",
            "the toxic is cleared or the proxy removed; netem's qdisc deleted",
            "answers spread out in time; the stream keeps its order",
            Equivalents("NetworkChaos action: delay with jitter", "latency with jitter", "pumba netem delay --jitter"),
            _jitter,
            directions=("to", "from", "both"),
        ),
        FaultKind(
            "slicer",
            "cut the stream into small pieces sent apart (the impairment proxy)",
            SlicerParams,
            Via.PROXY,
            ("server",),
            "the proxy's slicer toxic: average size ± variation, a pause between pieces",
            "the toxic is cleared or the proxy removed",
            "the same bytes in more, smaller segments: a reader that assumed one read per message breaks",
            Equivalents("—", "slicer", "—"),
            _slicer,
            directions=("to", "from", "both"),
        ),
        FaultKind(
            "timeout",
            "stall the stream: hold the data (and close after ms, if given) (the impairment proxy)",
            TimeoutParams,
            Via.PROXY,
            ("server",),
            "the proxy's timeout toxic: nothing passes; the connection closed after ms (0: held until undone)",
            "the toxic is cleared (held data goes on) or the proxy removed",
            "connects complete, answers never come until it ends: the client's own reply timeout decides",
            Equivalents("— (partition is the nearest)", "timeout", "—"),
            _timeout,
            directions=("to", "from", "both"),
        ),
        FaultKind(
            "kill",
            "SIGKILL the container; start it again when the fault ends (for: the downtime)",
            FaultParams,
            Via.DOCKER,
            ANY,
            "docker kill (SIGKILL)",
            "docker start (socklab's reaper does it on time if the command died)",
            "exchanges in flight cut (closed without an answer); refused until it is back",
            Equivalents("PodChaos action: container-kill", "—", "pumba kill --signal SIGKILL"),
            lambda p, s, t: process.kill(s.container(), client=s.client, seconds=t),
            downtime=True,
        ),
        FaultKind(
            "stop",
            "docker stop (SIGTERM, SIGKILL after grace); start it again when the fault ends (for: the downtime)",
            StopParams,
            Via.DOCKER,
            ANY,
            "docker stop (SIGTERM, then SIGKILL after the grace period)",
            "docker start (the reaper does it on time if the command died)",
            "nothing for what was accepted (a server that drains answers it); refused until it is back",
            Equivalents("PodChaos action: pod-kill (gracePeriod)", "—", "pumba stop"),
            lambda p, s, t: process.stop(s.container(), grace=p.grace, client=s.client, seconds=t),
            downtime=True,
        ),
        FaultKind(
            "restart",
            "docker stop, then docker start after for (at once without it)",
            StopParams,
            Via.DOCKER,
            ANY,
            "docker stop (SIGTERM, SIGKILL after the grace period)",
            "docker start after the downtime",
            "a short refusal; what was accepted is answered by a server that drains",
            Equivalents("PodChaos action: pod-kill (its controller restarts it)", "—", "pumba restart"),
            lambda p, s, t: process.restart(s.container(), grace=p.grace, client=s.client, seconds=t),
            downtime=True,
        ),
        FaultKind(
            "pause",
            "freeze every process of the container (docker pause); unpause when the fault ends",
            FaultParams,
            Via.DOCKER,
            ANY,
            "docker pause (the cgroup freezer)",
            "docker unpause (the reaper does it on time if the command died)",
            "connects complete (the kernel still answers), answers wait for the unpause",
            Equivalents("— (PodChaos pod-failure is the nearest)", "—", "pumba pause"),
            lambda p, s, t: process.pause(s.container(), client=s.client, seconds=t),
        ),
        FaultKind(
            "disconnect",
            "take the container off a network; reconnect it with its aliases when the fault ends",
            DisconnectParams,
            Via.DOCKER,
            ANY,
            "docker network disconnect",
            "docker network connect with the same aliases (the reaper does it on time if the command died)",
            "no route and no name: the connect retry bridges it",
            Equivalents("NetworkChaos action: partition (the nearest)", "proxy disabled (enabled: false)", "—"),
            lambda p, s, t: process.disconnect(
                s.container(), network=p.network or _lab_network(s), client=s.client, seconds=t
            ),
        ),
    )
}
# The reliability suite's former names, still taken by `socklab faults --fault` (the catalog's win).
ALIASES = {"sigkill": "kill", "sigterm": "stop"}


def _lab_network(site: Site) -> str | None:
    return site.lab.network.name if site.lab is not None and site.lab.network is not None else None


class UnknownFault(ValueError):
    pass


def get(name: str) -> FaultKind:
    """The catalog's entry for ``name`` (or a former name); UnknownFault lists the names there are."""
    kind = FAULTS.get(ALIASES.get(name, name))
    if kind is None:
        raise UnknownFault(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
    return kind


def proxy_faults() -> tuple[str, ...]:
    return tuple(name for name, kind in FAULTS.items() if kind.via is Via.PROXY)


def markdown_table() -> str:
    """docs/faults.md's table of the catalog (a unit test holds the docs to it): each fault, its parameters
    with units, what it can target, the directions it takes, and its Chaos Mesh, Toxiproxy, Pumba equivalents."""
    import dataclasses

    from socklab.faults.params import Bounds

    def params(kind: FaultKind) -> str:
        said = []
        for field in dataclasses.fields(kind.params):
            bounds: Bounds = field.metadata["bounds"]
            unit = f" ({bounds.unit})" if bounds.unit else ""
            said.append(f"`{field.name.replace('_', '-')}`{unit}")
        return ", ".join(said) or "-"

    lines = [
        "| fault | parameters | targets | direction | how (via) | Chaos Mesh | Toxiproxy | Pumba |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind in FAULTS.values():
        eq = kind.equivalents
        lines.append(
            f"| `{kind.name}` | {params(kind)} | {', '.join(kind.targets)} | {'/'.join(kind.directions) or '-'} | "
            f"{kind.via} | {eq.chaos_mesh} | {eq.toxiproxy} | {eq.pumba} |"
        )
    return "\n".join(lines)
