"""Every experiment by name (one list), and running one: the probes image first, then the experiment.

An experiment is a module with ``NAME``, ``CLAIM``, a docstring whose first line says what it does, and
``run(*, probes_image, plot_dir, progress, **images) -> Result``; the lab's images (server, client, UDP
server, the C server) are passed to every experiment, and those that run only the probes ignore them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import docker

from socklab.events import recorder as events
from socklab.events.schema import Kind
from socklab.experiments.image import ensure_probes_image
from socklab.experiments.record import Result
from socklab.progress import Progress, quiet

# The one list: `socklab experiment list` shows them in this order.
MODULES = (
    "unix",
    "stream_vs_datagram",
    "backlog",
    "blocking",
    "zombies",
    "pipe",
    "order",
    "crash",
    "time_wait",
    "nagle",
    "zero_window",
    "half_close",
    "congestion",
)


class UnknownExperiment(ValueError):
    """No experiment has this name; the message lists the names."""


@dataclass(frozen=True)
class Experiment:
    name: str
    claim: str
    summary: str
    module: ModuleType

    def run(self, **kwargs: object) -> Result:
        return self.module.run(**kwargs)  # type: ignore[no-any-return]


def _load(module_name: str) -> Experiment:
    module = importlib.import_module(f"socklab.experiments.{module_name}")
    first_line = (module.__doc__ or "").strip().splitlines()[0]
    summary = first_line.removeprefix(f"``{module.NAME}``: ")
    return Experiment(module.NAME, module.CLAIM, summary, module)


def experiments() -> dict[str, Experiment]:
    found = {}
    for module_name in MODULES:
        try:
            experiment = _load(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != f"socklab.experiments.{module_name}":
                raise
            continue  # not written yet on this branch
        found[experiment.name] = experiment
    return found


def get(name: str) -> Experiment:
    found = experiments()
    if name not in found:
        raise UnknownExperiment(f"no experiment {name!r}; there are: {', '.join(found)}")
    return found[name]


def run_experiment(
    name: str,
    *,
    plot_dir: Path | None = None,
    probes_image: str | None = None,
    server_image: str = "socklab/server:latest",
    client_image: str = "socklab/client:latest",
    udp_server_image: str = "socklab/server:async",
    c_server_image: str = "socklab/server:c-fork",
    progress: Progress = quiet,
) -> Result:
    """Run one experiment in its own throwaway lab; everything it made is removed when it returns."""
    experiment = get(name)
    client = docker.from_env()
    try:
        probes_image = probes_image or ensure_probes_image(client, progress=progress)
    finally:
        client.close()
    result = experiment.run(
        probes_image=probes_image,
        plot_dir=plot_dir,
        server_image=server_image,
        client_image=client_image,
        udp_server_image=udp_server_image,
        c_server_image=c_server_image,
        progress=progress,
    )
    # The finding is the verdict ("Linux differs" is a successful run, so ok says whether it agrees).
    details = [f"the lesson says: {result.claim}", *result.observed]
    events.emit(Kind.VERDICT, ok=result.agrees, text=result.verdict, details=details, experiment=name)
    return result
