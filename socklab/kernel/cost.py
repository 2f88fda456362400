"""``socklab bench kernel``: what ``--kernel`` costs. The observer only reads; strace stops the server at every
system call it makes (attached with ``-p``, strace cannot filter in the kernel: seccomp-bpf needs a tracee it
started), so the server pays.

For each server image, two labs, one observed and one not, each asked the same questions from this host:

- ``--exchanges`` exchanges one after another (delay 0): the answer's median and 90th percentile, and the
  server container's CPU per exchange (its cgroup), so what one traced exchange costs;
- ``--clients`` clients at once (delay 1 s), as ``socklab run`` starts them: the events a second each stream
  wrote, and the CPU of the observer and of the tracer (their cgroups) over that run.

    socklab bench kernel --server-image socklab/server:fork --server-image socklab/server:c-fork --clients 10
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import docker

from socklab.bench.kernel import Cgroup
from socklab.events.recorder import Recorder
from socklab.events.schema import Kind
from socklab.lab.containers import LabContainer
from socklab.lab.lab import Lab
from socklab.lab.sidecar import tools_image
from socklab.load.python_load import exchange
from socklab.progress import Progress, to_stderr

KINDS = (Kind.SOCKET, Kind.PACKET, Kind.SYSCALL)


@dataclass(frozen=True)
class Cost:
    server: str
    kernel: bool
    median_ms: float  # one exchange from this host, delay 0
    p90_ms: float
    server_cpu_ms: float  # the server container's CPU per exchange
    clients: int
    crowd_seconds: float  # the clients at once: from their start to the last one collected
    events_per_second: dict[str, float]  # by stream, over the crowd's run
    observer_cpu: float  # share of one core the observer used over the crowd's run
    tracer_cpu: float  # the same for the server's tracer


def _cpu(container: LabContainer | None) -> Cgroup | None:
    if container is None:
        return None
    container.sdk.reload()
    return Cgroup.of_pid(int(container.sdk.attrs["State"]["Pid"]))


def _sequential(lab: Lab, exchanges: int) -> tuple[list[float], float]:
    assert lab.server is not None
    cgroup = _cpu(lab.server)
    assert cgroup is not None
    address = lab.server_address()
    exchange(address, lab.port, timeout=10)  # the first one pays for lazy imports
    before = cgroup.cpu_seconds()
    seconds = [exchange(address, lab.port, timeout=10) for _ in range(exchanges)]
    return seconds, (cgroup.cpu_seconds() - before) / exchanges


def measure(server: str, client: str, *, kernel: bool, exchanges: int, clients: int, progress: Progress) -> Cost:
    recorder = Recorder(kernel=kernel)
    with recorder, Lab(server_image=server, client_image=client, delay=0, purpose="bench-kernel") as quick:
        seconds, cpu = _sequential(quick, exchanges)
    median = statistics.median(seconds) * 1000
    progress(f"{server}{' --kernel' if kernel else ''}: {exchanges} exchanges, median {median:.2f} ms")
    recorder = Recorder(kernel=kernel)
    with recorder, Lab(server_image=server, client_image=client, delay=1, purpose="bench-kernel") as lab:
        streams = lab._kernel_streams
        watchers = [] if streams is None else [streams.observer, *streams.tracers.values()]
        groups = [_cpu(w.container if w is not None else None) for w in watchers]
        used = [g.cpu_seconds() if g else 0.0 for g in groups]
        started, first = time.monotonic(), len(recorder.events)
        lab.run_clients(clients)
        took = time.monotonic() - started
        used = [(g.cpu_seconds() - u) / took if g else 0.0 for g, u in zip(groups, used, strict=True)]
        window = recorder.events[first:]
    rates = {str(kind): round(sum(e.kind is kind for e in window) / took, 1) for kind in KINDS}
    ordered = sorted(seconds)
    return Cost(
        server=server,
        kernel=kernel,
        median_ms=round(statistics.median(seconds) * 1000, 3),
        p90_ms=round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 3),
        server_cpu_ms=round(cpu * 1000, 3),
        clients=clients,
        crowd_seconds=round(took, 2),
        events_per_second=rates if kernel else {},
        observer_cpu=round(used[0], 3) if used else 0.0,
        tracer_cpu=round(sum(used[1:]), 3),
    )


def markdown(costs: Sequence[Cost]) -> str:
    lines = [
        "| server | --kernel | answer median ms | p90 ms | server CPU ms/exchange | clients | events/s "
        "(socket, packet, syscall) | observer CPU | tracer CPU |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for c in costs:
        rates = ", ".join(f"{c.events_per_second.get(str(k), 0):g}" for k in KINDS) if c.kernel else "-"
        on = "on" if c.kernel else "off"
        lines.append(
            f"| {c.server} | {on} | {c.median_ms:.2f} | {c.p90_ms:.2f} | {c.server_cpu_ms:.2f} | {c.clients} | "
            f"{rates} | {c.observer_cpu:.1%} | {c.tracer_cpu:.1%} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="socklab bench kernel", description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-image", action="append", default=[], help="repeatable (default socklab/server:fork)")
    parser.add_argument("--client-image", default="socklab/client:latest")
    parser.add_argument("--exchanges", type=int, default=200, help="one after another, delay 0")
    parser.add_argument("--clients", type=int, default=10, help="at once, delay 1 s")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    progress = to_stderr("bench kernel")
    client = docker.from_env()
    tools_image(client, progress)  # built (if it must be) before anything is timed
    client.close()
    costs = [
        measure(
            server, args.client_image, kernel=kernel, exchanges=args.exchanges, clients=args.clients, progress=progress
        )
        for server in args.server_image or ["socklab/server:fork"]
        for kernel in (False, True)
    ]
    print(json.dumps([asdict(c) for c in costs]) if args.json else markdown(costs))
    return 0
