"""A scenario's client hosts: ``client-1`` … ``client-N``, each running at most one client container at a
time (a wave's, or continuous exchanges until the end), named after its host so that a fault on
``client-2`` finds it and the report draws one row per host.

A batch is made ready ahead of its moment (containers started, each at the start barrier: it printed
"ready" and waits for SIGUSR1) and let go at the moment with one signal each, so that it starts on time.
A collector thread per container reads it back when it exits (``Lab.collect``: its results as events, the
container removed) and frees its host. Continuous exchanges end with SIGTERM: the client finishes the
exchange in flight and starts no other.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import docker.errors
import requests

from socklab import wire
from socklab.lab.client_run import ClientRun
from socklab.lab.containers import LabContainer
from socklab.lab.lab import START_WORKERS, Lab
from socklab.scenarios.probes import Window
from socklab.wire.config import ClientConfig

CONNECT_DEADLINE = 30.0  # a client retries "refused" and "name not found" (and cut exchanges) this long
INTERVAL = 0.1  # between one host's exchanges
CONTINUOUS = 1_000_000  # "until the end": the client is stopped long before
END_GRACE = 5.0  # at the end, beyond the delay, for the exchanges in flight to finish
READY_TIMEOUT = 60.0
GONE = (docker.errors.DockerException, requests.exceptions.RequestException)  # a container that went meanwhile


@dataclass
class Batch:
    """The containers one step started: a wave, continuous exchanges, the steady state's waves."""

    label: str
    hosts: list[int]
    continuous: bool
    containers: dict[int, LabContainer] = field(default_factory=dict)
    runs: dict[int, ClientRun] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    released_at: float | None = None  # POSIX time of the go signal
    collectors: list[threading.Thread] = field(default_factory=list)

    def done(self) -> bool:
        return len(self.runs) == len(self.containers) and bool(self.containers)


class ClientHosts:
    def __init__(self, lab: Lab, *, image: str, delay: float, count: int = 3) -> None:
        self.lab = lab
        self.image = image
        self.delay = delay
        self.count = count  # the lab's client hosts (the steady state's waves use them all)
        self.barrier = lab.has_start_barrier(image)
        self.batches: list[Batch] = []
        self._free: dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    def _env(self, exchanges: int | None) -> dict[str, str]:
        repeat = CONTINUOUS if exchanges is None else exchanges
        knobs = ClientConfig(
            repeat=repeat,
            interval=INTERVAL if repeat > 1 else 0.0,
            connect_deadline=CONNECT_DEADLINE,
            reply_timeout=self.delay + 10,
            retry_cut=True,
            wait_for_go=self.barrier,
        )
        return knobs.to_env()

    def _host_free(self, host: int) -> threading.Event:
        with self._lock:
            return self._free.setdefault(host, _set(threading.Event()))

    def container_of(self, host: int) -> LabContainer | None:
        """The container running on ``host`` now (None: it has none)."""
        for batch in reversed(self.batches):
            container = batch.containers.get(host)
            if container is not None and host not in batch.runs:
                return container
        return None

    def prepare(self, hosts: list[int], *, exchanges: int | None, label: str, deadline: float = 60.0) -> Batch:
        """Start a container on each host (waiting, bounded, for a host still busy with an earlier wave),
        each at the start barrier; ``release`` lets them go."""
        batch = Batch(label, list(hosts), exchanges is None, env=self._env(exchanges))
        for host in hosts:
            if not self._host_free(host).wait(deadline):
                raise TimeoutError(f"{label}: client-{host} was still busy after {deadline:g} s")
            self._host_free(host).clear()
        with self._lock:
            self.batches.append(batch)
        if self.barrier:  # a client without a barrier (not ours) starts when let go
            self._start_all(batch)
        return batch

    def _give_back(self, batch: Batch) -> None:
        """A batch that could not start: its containers removed, its hosts free again."""
        for host in batch.hosts:
            container = batch.containers.pop(host, None)
            if container is not None:
                with contextlib.suppress(*GONE):
                    self.lab.remove(container)
            self._host_free(host).set()

    def _start_all(self, batch: Batch) -> None:
        def start(host: int) -> None:
            container = self.lab.add(self.lab.topology.client(host, self.image, env=batch.env))
            batch.containers[host] = container
            if self.barrier:
                container.wait_for_log(wire.READY_LINE, timeout=READY_TIMEOUT, literal=True)

        try:
            with ThreadPoolExecutor(START_WORKERS) as pool:
                list(pool.map(start, batch.hosts))
        except BaseException:
            self._give_back(batch)
            raise

    def release(self, batch: Batch) -> float:
        """Let the batch go now (one SIGUSR1 each, in parallel); collect each container as it exits."""
        if not self.barrier:
            self._start_all(batch)
        elif batch.containers:
            with ThreadPoolExecutor(START_WORKERS) as pool:
                list(pool.map(self._go, batch.containers.values()))
        batch.released_at = time.time()
        for host, container in batch.containers.items():
            thread = threading.Thread(
                target=self._collect, args=(batch, host, container), name=f"socklab-collect-{host}", daemon=True
            )
            batch.collectors.append(thread)
            thread.start()
        return batch.released_at

    @staticmethod
    def _go(container: LabContainer) -> None:
        """Its go signal; a container that died at the barrier is read back like any (its exit code says)."""
        with contextlib.suppress(*GONE):
            container.signal(wire.GO_SIGNAL)

    def _collect(self, batch: Batch, host: int, container: LabContainer) -> None:
        timeout = 24 * 3600.0 if batch.continuous else CONNECT_DEADLINE + 20 * (self.delay + 10)
        try:
            runs = self.lab.collect([container], timeout=timeout)
            if runs:
                batch.runs[host] = runs[0]
        finally:
            self._host_free(host).set()

    def wave(self, hosts: list[int], *, label: str, exchanges: int = 1) -> Window:
        """A wave from start to end (the steady state's, before and after the method): its window."""
        batch = self.prepare(hosts, exchanges=exchanges, label=label)
        self.release(batch)
        self.join([batch], timeout=CONNECT_DEADLINE + exchanges * (self.delay + 10) + 30)
        return self.window([batch])

    def stop(self, hosts: list[int] | None = None) -> list[str]:
        """SIGTERM to the continuous exchanges (on ``hosts``, or all): each finishes the one in flight."""
        stopped = []
        for batch in self.batches:
            if not batch.continuous:
                continue
            for host, container in batch.containers.items():
                if host not in batch.runs and (hosts is None or host in hosts):
                    with contextlib.suppress(*GONE):  # it exited meanwhile: nothing to stop
                        container.signal("SIGTERM")
                        stopped.append(f"client-{host}")
        return stopped

    def join(self, batches: list[Batch] | None = None, *, timeout: float) -> list[str]:
        """Wait for the batches' containers to exit, bounded; kill what is left (it is then collected)."""
        deadline = time.monotonic() + timeout
        killed = []
        for batch in batches if batches is not None else list(self.batches):
            for host, thread in zip(batch.containers, batch.collectors, strict=False):
                thread.join(max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    container = batch.containers[host]
                    with contextlib.suppress(*GONE):
                        container.sdk.kill()
                    killed.append(f"client-{host}")
                    thread.join(30)
        return killed

    def end(self) -> list[str]:
        """The end of the method: continuous exchanges stop, every exchange in flight finishes (bounded by
        the delay and a grace); what is still running after that is killed and named."""
        self.stop()
        return self.join(timeout=self.delay + 10 + END_GRACE)

    def window(self, batches: list[Batch] | None = None) -> Window:
        """The batches' exchanges so far: the finished containers' records, and those the running ones
        have printed already (read from their output now)."""
        results: list[wire.ClientResult] = []
        codes: dict[str, int] = {}
        for batch in batches if batches is not None else list(self.batches):
            for host, container in list(batch.containers.items()):
                run = batch.runs.get(host)
                if run is not None:
                    results += run.results
                    codes[f"{batch.label}/client-{host}"] = run.exit_code
                    continue
                with contextlib.suppress(*GONE):  # removed at this moment: its run says what it printed
                    results += wire.parse_results(container.stdout_and_stderr()[0])
        return Window(tuple(results), codes)


def _set(event: threading.Event) -> threading.Event:
    event.set()
    return event
