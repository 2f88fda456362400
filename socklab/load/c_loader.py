"""The C load generator (``socklab/loadgen:c``, from peers/loadgen.c) in containers of its own.

Why containers: the loader must not share the server's network namespace or CPU accounting, and dockerd
caps every process at 20,000 descriptors, so a hundred thousand held clients need several loaders.
Each loader prints one JSON object; ``merge`` adds several loaders' results up into one.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import docker
import docker.errors
from docker.models.containers import Container

from socklab.load.stats import percentile

Mode = Literal["closed", "open", "hold"]
DESCRIPTOR_CAP = 20_000  # dockerd's RLIMIT_NOFILE for every container process on this engine
CLIENTS_PER_LOADER = 18_000  # under the cap, with room for the loader's own descriptors
# Every loader may use (almost) all ports: 18,000 held connections need 18,000 source ports.
PORT_RANGE = "1024 65535"
START_SLACK = 0.6  # seconds between creating the loaders and their common start (plus per loader below)
START_PER_LOADER = 0.3  # dockerd starts about 4 containers a second here


class LoaderFailed(RuntimeError):
    """A loader container did not print its JSON result (crashed, bad arguments, timed out)."""


@dataclass(frozen=True)
class LoadPlan:
    """What each loader does; every number is per loader."""

    mode: Mode
    threads: int = 1
    concurrency: int = 16  # closed: exchanges in flight per thread
    seconds: float = 3.0  # closed/open: the measured window
    warmup: float = 0.5  # closed: not counted
    rate: float = 1000.0  # open: exchanges started per second
    clients: int = 1000  # hold: connections opened at once
    timeout: float = 10.0  # per exchange
    samples: bool = False  # print every latency (to merge percentiles across loaders exactly)

    def arguments(self, server: str, port: int, start_at: float) -> list[str]:
        args = ["--server", server, "--port", str(port), "--mode", self.mode, "--threads", str(self.threads)]
        args += ["--timeout", f"{self.timeout:g}"]
        if start_at:
            args += ["--start-at", f"{start_at:.3f}"]
        if self.mode == "closed":
            args += ["--concurrency", str(self.concurrency), "--seconds", f"{self.seconds:g}"]
            args += ["--warmup", f"{self.warmup:g}"]
        elif self.mode == "open":
            args += ["--rate", f"{self.rate:g}", "--seconds", f"{self.seconds:g}"]
        else:
            args += ["--clients", str(self.clients)]
        return [*args, "--samples"] if self.samples else args

    def wall_limit(self) -> float:
        """How long a loader may run before it is called stuck."""
        busy = self.seconds + self.warmup if self.mode != "hold" else 0.0
        return START_SLACK + busy + self.timeout + 30.0


@dataclass(frozen=True)
class LoadResult:
    """One loader's JSON, or several merged (``merge``)."""

    mode: str
    ok: int  # answered correctly inside the measured window (hold: all)
    answered: int  # answered correctly at all, warm-up and tail included
    failed: int
    errors: dict[str, int]
    seconds: float  # the measured window (closed/open) or first connect to last answer (hold)
    cpu_seconds: float
    latency: dict[str, float | None]  # min, p50, p90, p99, p999, max in seconds
    started_at: float  # wall clock (epoch) of the start
    samples_ms: list[float] = field(default_factory=list, repr=False)
    loaders: int = 1

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else math.nan

    @property
    def all_ok(self) -> bool:
        return self.failed == 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadResult:
        return cls(
            mode=data["mode"],
            ok=int(data["ok"]),
            answered=int(data["answered"]),
            failed=int(data["failed"]),
            errors={k: int(v) for k, v in data["errors"].items() if v},
            seconds=float(data["seconds"]),
            cpu_seconds=float(data["cpu_seconds"]),
            latency=dict(data["latency_s"]),
            started_at=float(data["started_at"]),
            samples_ms=list(data.get("samples_ms", [])),
        )


def merge(results: Sequence[LoadResult]) -> LoadResult:
    """Several loaders as one: counts add up; percentiles come from every sample when the loaders sent
    them (``LoadPlan.samples``), else the worst loader's (an upper bound, said so by the caller)."""
    if len(results) == 1:
        return results[0]
    errors: Counter[str] = Counter()
    for r in results:
        errors.update(r.errors)
    samples = sorted(s for r in results for s in r.samples_ms)
    if samples:
        latency: dict[str, float | None] = {
            "min": samples[0] / 1000,
            **{k: percentile(samples, p) / 1000 for k, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9))},
            "max": samples[-1] / 1000,
        }
    else:
        keys = ("min", "p50", "p90", "p99", "p999", "max")
        latency = {k: max((r.latency.get(k) or math.nan) for r in results) for k in keys}
    start = min(r.started_at for r in results)
    if results[0].mode == "hold":
        seconds = max(r.started_at + r.seconds for r in results) - start
    else:
        seconds = results[0].seconds  # the same window in every loader
    return LoadResult(
        mode=results[0].mode,
        ok=sum(r.ok for r in results),
        answered=sum(r.answered for r in results),
        failed=sum(r.failed for r in results),
        errors=dict(errors),
        seconds=seconds,
        cpu_seconds=sum(r.cpu_seconds for r in results),
        latency=latency,
        started_at=start,
        samples_ms=samples,
        loaders=len(results),
    )


def loaders_for(clients: int) -> list[int]:
    """Held clients split over as few loaders as the descriptor cap allows, as evenly as possible."""
    count = max(1, math.ceil(clients / CLIENTS_PER_LOADER))
    return [clients // count + (k < clients % count) for k in range(count)]


def _parse(container: Container) -> LoadResult:
    out = container.logs(stdout=True, stderr=False).decode(errors="replace")
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            return LoadResult.from_json(json.loads(line))
    err = container.logs(stdout=False, stderr=True).decode(errors="replace")
    raise LoaderFailed(f"loader {container.name} printed no result: {(out + err).strip()[-500:]}")


def run_loaders(
    client: docker.DockerClient,
    *,
    image: str,
    network: str,
    server: str,
    plans: Sequence[LoadPlan],
    labels: dict[str, str],
    name_prefix: str,
    port: int = 9736,
    addresses: Sequence[str | None] = (),
) -> list[LoadResult]:
    """One loader container per plan, all started together (a common wall-clock start), on ``network``;
    ``addresses`` pins their IPs (reused tuples keep the host's conntrack table small). Removed after."""
    # One loader starts at once; several start together at a wall-clock moment after all were started.
    start_at = time.time() + START_SLACK + START_PER_LOADER * len(plans) if len(plans) > 1 else 0.0
    containers: list[Container] = []
    try:
        for k, plan in enumerate(plans):
            address = addresses[k] if k < len(addresses) else None
            container = client.containers.create(
                image,
                plan.arguments(server, port, start_at),
                name=f"{name_prefix}-loader-{k}",
                labels=labels,
                sysctls={"net.ipv4.ip_local_port_range": PORT_RANGE},
                **on_network(client, network, address),
            )
            containers.append(container)
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda c: c.start(), containers))
        limit = max(p.wall_limit() for p in plans) + START_PER_LOADER * len(plans)
        for container in containers:
            status = container.wait(timeout=limit)
            if status.get("StatusCode") != 0:
                raise LoaderFailed(f"loader {container.name} exited {status.get('StatusCode')}: {_tail(container)}")
        return [_parse(c) for c in containers]
    finally:
        for container in containers:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)


def on_network(client: docker.DockerClient, network: str, address: str | None) -> dict[str, Any]:
    """``containers.create`` keywords that attach to ``network`` only, at ``address`` when given."""
    if address is None:
        return {"network": network}
    endpoint = client.api.create_endpoint_config(ipv4_address=address)
    return {"network": network, "networking_config": {network: endpoint}}


def _tail(container: Container) -> str:
    return str(container.logs().decode(errors="replace")).strip()[-500:]
