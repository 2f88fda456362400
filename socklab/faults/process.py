"""Process faults through the docker SDK: kill, stop, pause, restart, disconnect from a network.

Each is undone by bringing the container back (start, unpause, reconnect with its aliases), then
checked: the container must be running (and on the network again) or the fault fails loudly.
"""

from __future__ import annotations

import time
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container

from socklab.faults.network import resolve
from socklab.faults.record import Fault, FaultError, FaultNotUndone, FaultRecord
from socklab.lab import reaper

DEFAULT_GRACE = 10  # seconds `docker stop` waits after SIGTERM before SIGKILL


class ProcessFault(Fault):
    """The shared part: find the target, keep the record, check that it runs again after the undo."""

    mechanism = ""

    def __init__(
        self, target: Container | str, *, seconds: float | None = None, client: docker.DockerClient | None = None
    ) -> None:
        super().__init__(seconds=seconds)
        self.client = client or docker.from_env()
        self.target = target
        self.container: Container | None = None
        self._undo_key = ""  # under which the reaper holds this fault's undo while it lasts

    def params(self) -> dict[str, Any]:
        return {"seconds": self.seconds} if self.seconds is not None else {}

    def apply(self) -> FaultRecord:
        self.container = resolve(self.client, self.target)
        applied = time.time()
        self.inflict(self.container)
        # No sidecar owns this undo: if this process dies (even by SIGKILL), the reaper does it, on time.
        self._undo_key = f"{self.name}-{self.container.id[:12]}-{applied:.6f}"
        at = applied + self.seconds if self.seconds is not None else None
        reaper.undo_on_death(self._undo_key, {**self.undo_action(self.container), "at": at})
        self.record = FaultRecord(self.name, self.container.name, self.mechanism, self.params(), applied)
        return self.record

    def undo_action(self, container: Container) -> dict[str, Any]:
        """What brings the container back, for the reaper (see ``socklab.lab.reaper._perform``)."""
        return {"op": "start", "container": container.id}

    def undo(self) -> None:
        if self.container is None or self.record is None or self.record.undone_at is not None:
            return
        reaper.forget(self._undo_key)
        self.record.undone_because = "its time ran out" if self.seconds is not None else "the holder asked"
        self.heal(self.container)
        self.record.undone_at = time.time()
        self.container.reload()
        problem = self.check(self.container)
        self.record.verified = problem is None
        if problem:
            self.record.detail = problem
            raise FaultNotUndone(f"{self.name} on {self.container.name}: {problem}")

    def inflict(self, container: Container) -> None:
        raise NotImplementedError

    def heal(self, container: Container) -> None:
        container.start()

    def check(self, container: Container) -> str | None:
        return None if container.status == "running" else f"the container is {container.status}, not running"


class Kill(ProcessFault):
    name = "kill"
    mechanism = "docker kill (SIGKILL), then docker start"

    def inflict(self, container: Container) -> None:
        container.kill()
        container.wait(timeout=30)


class Stop(ProcessFault):
    name = "stop"
    mechanism = "docker stop (SIGTERM, SIGKILL after the grace period), then docker start"

    def __init__(self, target: Container | str, *, grace: int = DEFAULT_GRACE, **kwargs: Any) -> None:
        super().__init__(target, **kwargs)
        self.grace = grace

    def params(self) -> dict[str, Any]:
        return {"grace": self.grace, **super().params()}

    def inflict(self, container: Container) -> None:
        container.stop(timeout=self.grace)


class Restart(Stop):
    """``docker restart``: down for as short as the engine can make it (``seconds`` is the gap, if any)."""

    name = "restart"
    mechanism = "docker stop (SIGTERM, SIGKILL after the grace period) and docker start"

    def __init__(self, target: Container | str, *, grace: int = DEFAULT_GRACE, **kwargs: Any) -> None:
        super().__init__(target, grace=grace, **kwargs)
        self.seconds = self.seconds or 0.0


class Pause(ProcessFault):
    name = "pause"
    mechanism = "docker pause (cgroup freezer), then docker unpause"

    def inflict(self, container: Container) -> None:
        container.pause()

    def heal(self, container: Container) -> None:
        container.unpause()

    def undo_action(self, container: Container) -> dict[str, Any]:
        return {"op": "unpause", "container": container.id}


class Disconnect(ProcessFault):
    """Take the container off a network; reconnect it with the aliases it had."""

    name = "disconnect"
    mechanism = "docker network disconnect, then docker network connect with the same aliases"

    def __init__(self, target: Container | str, *, network: str | None = None, **kwargs: Any) -> None:
        super().__init__(target, **kwargs)
        self.network = network
        self.aliases: list[str] = []

    def params(self) -> dict[str, Any]:
        return {"network": self.network, **super().params()}

    def inflict(self, container: Container) -> None:
        networks = container.attrs["NetworkSettings"]["Networks"]
        if self.network is None:
            if len(networks) != 1:
                raise FaultError(f"{container.name} is on {len(networks)} networks: say which (--network)")
            self.network = next(iter(networks))
        if self.network not in networks:
            raise FaultError(f"{container.name} is not on the network {self.network}")
        # Docker adds the short id as an alias by itself; the others are the ones to restore.
        self.aliases = [a for a in networks[self.network].get("Aliases") or [] if not container.id.startswith(a)]
        self.client.networks.get(self.network).disconnect(container)

    def heal(self, container: Container) -> None:
        self.client.networks.get(self.network).connect(container, aliases=self.aliases or None)

    def undo_action(self, container: Container) -> dict[str, Any]:
        return {"op": "connect", "container": container.id, "network": self.network, "aliases": self.aliases}

    def check(self, container: Container) -> str | None:
        networks = container.attrs["NetworkSettings"]["Networks"]
        if self.network not in networks:
            return f"not reconnected to {self.network}"
        missing = set(self.aliases) - set(networks[self.network].get("Aliases") or [])
        return f"reconnected without the aliases {sorted(missing)}" if missing else super().check(container)


def kill(target: Container | str, **kwargs: Any) -> Kill:
    return Kill(target, **kwargs)


def stop(target: Container | str, **kwargs: Any) -> Stop:
    return Stop(target, **kwargs)


def restart(target: Container | str, **kwargs: Any) -> Restart:
    return Restart(target, **kwargs)


def pause(target: Container | str, **kwargs: Any) -> Pause:
    return Pause(target, **kwargs)


def disconnect(target: Container | str, **kwargs: Any) -> Disconnect:
    return Disconnect(target, **kwargs)
