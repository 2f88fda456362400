"""Chaos Toolkit actions over socklab labs (``"provider": {"type": "python", "module":
"socklab.chaostoolkit.actions", "func": ...}``). Faults are the catalog's (``socklab fault --help``), their
parameters spelled as the catalog's fields (``percent``, ``jitter_ms``)."""

import dataclasses
import time
from typing import Any

from socklab.chaostoolkit import session
from socklab.checks.swap import swap_server
from socklab.faults.catalog import FAULTS
from socklab.lab.topology import SERVER, UPSTREAM

__all__ = ["apply_fault", "clients", "rollback", "start_lab", "stop_clients", "stop_lab", "swap", "undo_fault"]


def start_lab(
    server: str = "socklab/server:latest",
    clients: int = 3,
    delay: float = 1.0,
    client_image: str = "",
    proxy: bool = False,
    seed: int = -1,
    lab: str = "lab",
) -> dict[str, Any]:
    """Start a lab: the server under the alias ``server`` (through the impairment proxy with ``proxy``),
    ``clients`` client hosts. What it is: its server's address and image."""
    started = session.start(
        lab,
        server=server,
        clients=int(clients),
        delay=float(delay),
        client_image=client_image or None,
        proxy=bool(proxy),
        seed=None if seed < 0 else seed,
    )
    return {"lab": lab, "run": started.lab.run_id, "server": server, "address": started.lab.server_address()}


def clients(count: int = 3, exchanges: Any = 1, lab: str = "lab") -> dict[str, Any]:
    """``count`` client hosts make ``exchanges`` exchanges each, or ``"continuous"`` ones until
    ``stop_clients`` (or the rollbacks); returns at once, the exchanges going on."""
    held = session.get(lab)
    continuous = exchanges == "continuous"
    batch = held.hosts.prepare(list(range(1, int(count) + 1)), exchanges=None if continuous else int(exchanges),
                               label=f"clients-{len(held.batches) + 1}")  # fmt: skip
    held.hosts.release(batch)
    held.batches.append(batch)
    return {"hosts": [f"client-{h}" for h in batch.hosts], "continuous": continuous}


def stop_clients(lab: str = "lab") -> list[str]:
    """Continuous exchanges stop; every exchange in flight finishes (bounded by the delay and a grace)."""
    held = session.get(lab)
    killed = held.hosts.end()
    return [f"{name}: killed after the grace" for name in killed]


def apply_fault(fault: str, target: str = "server", seconds: float = 0.0, lab: str = "lab", **params: Any) -> str:
    """Apply a fault of socklab's catalog to ``target`` (``server`` or ``client-N``) with its parameters; with
    ``seconds`` hold it that long and undo it (kill, stop, restart: the downtime), else leave it on until
    ``undo_fault`` with the id this returns (or the rollbacks)."""
    held = session.get(lab)
    kind = FAULTS[fault]
    names = {f.name for f in dataclasses.fields(kind.params)}
    unknown = sorted(set(params) - names)
    if unknown:
        raise ValueError(f"{fault} takes {', '.join(sorted(names)) or 'no parameter'}, not {', '.join(unknown)}")
    step = held.fault_step(fault, kind.params(**params), target, float(seconds) or None)
    said = held.book.apply(held.book.prepare(step, (target,)))
    if not any(h.applied_at for h in held.book.held if h.step is step):
        raise RuntimeError("; ".join(said) or f"{fault} was applied to nobody")
    if seconds:
        time.sleep(max(0.0, float(seconds)))
        held.book.undo(step, "its time ran out")
    return str(step.index)


def undo_fault(fault_id: str, lab: str = "lab") -> list[str]:
    """Undo the fault ``apply_fault`` returned this id for."""
    held = session.get(lab)
    steps = [h.step for h in held.book.held if str(h.step.index) == str(fault_id)]
    if not steps:
        raise ValueError(f"no fault {fault_id!r} in lab {lab!r}")
    return held.book.undo(steps[0], "the experiment asked")


def swap(image: str, lab: str = "lab") -> str:
    """Replace the server version under the alias (as ``socklab swap`` does: the old one drains first)."""
    held = session.get(lab)
    alias = UPSTREAM if held.book.proxy is not None else SERVER
    return swap_server(held.lab, image, alias=alias).describe(image)


def rollback(lab: str = "lab") -> list[str]:
    """Undo every fault still on and stop the clients (the lab stays for the control to remove)."""
    return session.rollback(session.get(lab))


def stop_lab(lab: str = "lab") -> list[str]:
    """The rollbacks, then the lab and everything it made removed."""
    return session.stop(lab)
