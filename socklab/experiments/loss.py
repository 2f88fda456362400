"""Random packet loss on a container's interface, for as long as a ``with`` block lasts.

One function, so that one place decides how: the faults package's ``loss`` fault when this socklab has it
(a named, undoable fault held by its own sidecar agent), else the smallest equivalent here: iptables
``statistic`` rules added and removed by one-shot tools sidecars in the container's namespace.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from typing import Any

from socklab.capture.sidecar import run_in_namespace, tools_image
from socklab.lab.containers import LabContainer
from socklab.lab.lab import Lab
from socklab.progress import Progress, quiet

# Loopback is spared: Docker's DNS answers inside the namespace on 127.0.0.11, and a server that
# names its peers would otherwise wait out resolver timeouts that have nothing to do with the network.
CHAINS = (("INPUT", "-i"), ("OUTPUT", "-o"))
STATISTIC = ("-m", "statistic", "--mode", "random", "--probability")


def _rules(percent: float, action: str) -> list[list[str]]:
    probability = f"{percent / 100:.4f}"
    return [["iptables", action, chain, "!", way, "lo", *STATISTIC, probability, "-j", "DROP"] for chain, way in CHAINS]


def _faults_loss() -> Callable[..., Any] | None:
    """The faults package's ``loss`` fault, when this socklab has it."""
    try:
        return getattr(importlib.import_module("socklab.faults.network"), "loss", None)
    except ModuleNotFoundError:
        return None


@contextlib.contextmanager
def packet_loss(lab: Lab, target: LabContainer, percent: float, *, progress: Progress = quiet) -> Iterator[str]:
    """Drop ``percent`` % of the packets in and out of ``target``; yields what was applied, in words."""
    loss = _faults_loss()
    if loss is not None:
        with loss(target.sdk, percent=percent, client=lab.docker, run_id=lab.run_id) as record:
            progress(f"{percent:g} % loss on {target.name}: {record.mechanism}")
            yield f"{record.mechanism}: {'; '.join(record.commands)}"
        return
    image = tools_image(lab.docker, progress)
    for rule in _rules(percent, "-A"):
        run_in_namespace(lab, target, rule, image=image)
    progress(f"{percent:g} % loss on {target.name} (iptables statistic in its namespace, in and out)")
    try:
        yield f"iptables statistic --probability {percent / 100:g} DROP on INPUT and OUTPUT (not lo) in {target.name}"
    finally:
        for rule in _rules(percent, "-D"):
            with contextlib.suppress(Exception):  # the container may be gone already; it takes its rules along
                run_in_namespace(lab, target, rule, image=image)
