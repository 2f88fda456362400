"""The engine's own swarm: use the one it is in, or make a one-node swarm and leave it again, never more.

Other people share the engine, so the rules are strict: swarm operations on it happen under a file lock;
``init`` only when the engine is in no swarm; the node of a swarm socklab made carries a label saying so
(set right after ``init``, in the swarm's own store, so a later ``socklab swarm down`` in another process
knows); and socklab leaves only a swarm whose node carries that label. A swarm it did not make is never
left, only the stack it deployed there is removed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors

from socklab.hostcmd import locked

LOCK_PATH = Path("/tmp/socklab-swarm.lock")
MADE_BY_SOCKLAB = "io.socklab.swarm-made"  # node label on the node of a swarm socklab initialised: the run id
MADE_GWBRIDGE = "io.socklab.swarm-made-gwbridge"  # node label: "true" when docker_gwbridge appeared with our swarm
GWBRIDGE = "docker_gwbridge"  # the local bridge swarm creates for tasks' outside traffic; it outlives `leave`
INGRESS_SANDBOX = "gateway_ingress-sbox"  # swarm's endpoint on docker_gwbridge, left behind by `leave`
LOOPBACK = "127.0.0.1"  # a one-node swarm needs no other machine: its ports stay on loopback

HOW_TO_MAKE_ONE = (
    "this Docker engine is not in a swarm: make it one with `docker swarm init` (or `socklab swarm up --init`, "
    "which makes a one-node swarm and leaves it again on `socklab swarm down`), or join one with "
    "`docker swarm join --token TOKEN MANAGER:2377`"
)


class NotInSwarm(RuntimeError):
    """The engine is in no swarm and we were not asked to make one."""

    def __init__(self) -> None:
        super().__init__(HOW_TO_MAKE_ONE)


class SwarmStateError(RuntimeError):
    """The engine's swarm is in a state we must not touch (pending, error, locked)."""


@contextlib.contextmanager
def host_swarm_lock(path: Path = LOCK_PATH) -> Iterator[None]:
    """Serialise swarm operations on this machine's engine (two socklab commands must not both init)."""
    with locked(path):
        yield


def local_state(client: docker.DockerClient) -> str:
    """``inactive``, ``active``, ``pending``, ``error`` or ``locked``, as `docker info` says."""
    return str(client.info()["Swarm"]["LocalNodeState"])


def _local_node_id(client: docker.DockerClient) -> str:
    return str(client.info()["Swarm"]["NodeID"])


def made_by_socklab(client: docker.DockerClient) -> str | None:
    """The run id that made this engine's swarm, if socklab made it (and this engine is its manager)."""
    if local_state(client) != "active" or not client.info()["Swarm"].get("ControlAvailable"):
        return None
    node = client.nodes.get(_local_node_id(client))
    return (node.attrs["Spec"].get("Labels") or {}).get(MADE_BY_SOCKLAB)


def init_one_node_swarm(client: docker.DockerClient, run_id: str) -> None:
    """Make the engine a one-node swarm and mark it as ours. Call with ``host_swarm_lock`` held.

    Refuses unless the engine is in no swarm. If anything fails after ``init`` (even Ctrl-C), the swarm is
    left again before the error goes on, so a half-made swarm never stays behind.
    """
    state = local_state(client)
    if state != "inactive":
        raise SwarmStateError(f"refusing to make a swarm: this engine's swarm state is {state!r}, not 'inactive'")
    had_gwbridge = bool(client.networks.list(names=[GWBRIDGE]))
    client.swarm.init(advertise_addr=LOOPBACK, listen_addr=f"{LOOPBACK}:2377")
    try:
        node = client.nodes.get(_local_node_id(client))
        spec = node.attrs["Spec"]
        ours = {MADE_BY_SOCKLAB: run_id, MADE_GWBRIDGE: str(not had_gwbridge).lower()}
        spec["Labels"] = {**(spec.get("Labels") or {}), **ours}
        node.update(spec)
    except BaseException:
        client.swarm.leave(force=True)
        raise


def leave_if_made(client: docker.DockerClient) -> bool:
    """Leave the engine's swarm if socklab made it; return whether it did. Call with the lock held.

    Also removes docker_gwbridge if it appeared with our swarm and nothing uses it: `leave` keeps it.
    """
    if made_by_socklab(client) is None:
        return False
    labels = client.nodes.get(_local_node_id(client)).attrs["Spec"].get("Labels") or {}
    client.swarm.leave(force=True)
    if labels.get(MADE_GWBRIDGE) == "true":
        _remove_gwbridge(client)
    return True


def _remove_gwbridge(client: docker.DockerClient) -> None:
    """Remove docker_gwbridge unless a container uses it. Swarm's own ``ingress-sbox`` endpoint outlives
    ``leave`` and blocks the removal, so it is disconnected first (Docker's documented way)."""
    for network in client.networks.list(names=[GWBRIDGE]):
        network.reload()
        endpoints = {e.get("Name") for e in (network.attrs.get("Containers") or {}).values()}
        if endpoints - {INGRESS_SANDBOX}:
            return  # someone's containers use it: it stays
        with contextlib.suppress(docker.errors.APIError):
            if endpoints:
                network.disconnect(INGRESS_SANDBOX, force=True)
            network.remove()


def require_swarm(client: docker.DockerClient) -> None:
    state = local_state(client)
    if state == "inactive":
        raise NotInSwarm()
    if state != "active":
        raise SwarmStateError(f"this engine's swarm state is {state!r}: fix it with `docker swarm` first")
    if not client.info()["Swarm"].get("ControlAvailable"):
        raise SwarmStateError("this engine is a swarm worker: run socklab against a manager (DOCKER_HOST=…)")
