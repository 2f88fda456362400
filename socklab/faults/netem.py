"""Does this kernel have netem? Asked at run time, never assumed: a sidecar in a network namespace of
its own (``network_mode: none``, touching nobody) tries ``tc qdisc add dev lo root netem delay 1ms``."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import docker

from socklab.lab.lab import foreign_lab
from socklab.lab.sidecar import run_agent, tools_image
from socklab.sidecar.protocol import ProbeNetem, ProbeResult


@dataclass(frozen=True)
class NetemSupport:
    available: bool
    detail: str  # tc's error when it is not, e.g. "Error: Specified qdisc kind is unknown."

    def describe(self) -> str:
        if self.available:
            return "this kernel has netem: latency and jitter use tc netem in the target's namespace"
        return (
            f"this kernel has no netem ({self.detail or 'tc qdisc add ... netem failed'}): latency and jitter run "
            "through the impairment proxy, a container that takes the alias `server` and forwards to it "
            "(`socklab faults --fault latency`, or socklab.faults.proxy.ImpairmentProxy(lab, latency_ms=...))"
        )


@functools.cache
def _probe(docker_host: str, image: str) -> NetemSupport:
    with foreign_lab("fault") as lab:
        event = run_agent(lab, None, ProbeNetem(), image=image)
    if not isinstance(event, ProbeResult):
        return NetemSupport(False, f"the probe said {event.to_json()}")
    return NetemSupport(event.netem, event.detail)


def netem_support(client: docker.DockerClient, *, image: str | None = None) -> NetemSupport:
    """Probe once per engine and image in this process."""
    return _probe(client.api.base_url, image or tools_image(client))
