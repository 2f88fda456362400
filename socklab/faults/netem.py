"""Does this kernel have netem? Asked at run time, never assumed: a sidecar in a network namespace of
its own (``network_mode: none``, touching nobody) tries ``tc qdisc add dev lo root netem delay 1ms``."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass

import docker

from sidecar.protocol import ProbeNetem, ProbeResult
from socklab.faults.sidecar import run_agent
from socklab.faults.tools import tools_image
from socklab.lab.labels import new_run_id


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
def _probe(docker_host: str, image: str, run_id: str) -> NetemSupport:
    client = docker.from_env()
    try:
        event = run_agent(
            client,
            image=image,
            spec=ProbeNetem(),
            run_id=run_id,
            target_id=None,
            name=f"socklab-fault-probe-{uuid.uuid4().hex[:8]}",
        )
    finally:
        client.close()
    if not isinstance(event, ProbeResult):
        return NetemSupport(False, f"the probe said {event.to_json()}")
    return NetemSupport(event.netem, event.detail)


def netem_support(client: docker.DockerClient, *, image: str | None = None, run_id: str | None = None) -> NetemSupport:
    """Probe once per engine and image in this process."""
    return _probe(client.api.base_url, image or tools_image(client), run_id or new_run_id())
