"""Network faults: iptables and tc rules applied by the agent in a sidecar in the target's namespace.

Never from the host's namespace and never inside the target (our server images have no tools and no
capabilities; a foreign container need not have them either). The agent holds the rule and undoes it
itself, so ``seconds`` is kept even if this process dies; ``undo()`` ends it earlier.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import docker
from docker.models.containers import Container

from socklab.faults.record import Fault, FaultError, FaultNotUndone, FaultRecord
from socklab.lab.containers import LabContainer
from socklab.lab.lab import Lab, foreign_lab
from socklab.lab.sidecar import Agent, AgentFailed, tools_image
from socklab.progress import Progress, quiet
from socklab.sidecar.protocol import Applied, Failed, FaultSpec, Ready, Undone

APPLY_TIMEOUT = 60.0  # creating and starting a sidecar takes about a second; dockerd may be busy
UNDO_TIMEOUT = 30.0


class NetemUnavailable(FaultError):
    """This kernel has no netem qdisc: latency and jitter need the impairment proxy instead."""


def resolve(client: docker.DockerClient, target: Container | str) -> Container:
    """A running container by name or id (or the SDK object itself, refreshed)."""
    container = client.containers.get(target) if isinstance(target, str) else target
    container.reload()
    if container.status != "running":
        raise FaultError(f"container {container.name} is {container.status}, not running")
    return container


class NetworkFault(Fault):
    """One rule of ``sidecar.rules`` (``kind`` and its parameters) in ``target``'s network namespace.

    ``target``: a container of ``lab`` (its agent is then one more container of that lab), or any
    running container by name, id or SDK object (its agent then runs in a lab of its own that adopts it).
    """

    def __init__(
        self,
        target: LabContainer | Container | str,
        kind: str,
        *,
        seconds: float | None = None,
        lab: Lab | None = None,
        client: docker.DockerClient | None = None,
        image: str | None = None,
        **params: Any,
    ) -> None:
        super().__init__(seconds=seconds)
        self.name = kind
        self.client = client or (lab.docker if lab is not None else docker.from_env())
        self.target = target
        self.params = params
        self.image = image
        self.lab = lab
        self._own_lab: Lab | None = None
        self.sidecar: Agent | None = None
        self.fault_id = uuid.uuid4().hex[:8]
        self.spec = FaultSpec(kind, self.fault_id, seconds, **params)  # ProtocolError (a ValueError) at once
        self._lab_and_target: tuple[Lab, LabContainer] | None = None

    def _target(self) -> tuple[Lab, LabContainer]:
        if isinstance(self.target, LabContainer):
            if self.lab is None:
                raise ValueError("a LabContainer target needs its lab (lab=)")
            resolve(self.client, self.target.sdk)
            return self.lab, self.target
        container = resolve(self.client, self.target)
        self._own_lab = foreign_lab("fault").__enter__()  # closed by _let_go
        return self._own_lab, self._own_lab.adopt(container)

    def _let_go(self) -> None:
        try:
            if self.sidecar is not None:
                self.sidecar.close()
        finally:
            if self._own_lab is not None:
                self._own_lab.close()
                self._own_lab = None

    def prepare(self) -> None:
        """Start the agent armed (its container and plan; the snapshot it verifies against is taken at apply),
        so that ``apply`` takes effect at once: a scenario prepares a fault ahead of its moment. Nothing is
        touched until ``apply``."""
        if self.sidecar is not None:
            return
        lab, container = self._lab_and_target = self._target()
        armed = replace(self.spec, armed=True)
        try:
            self.sidecar = Agent(lab, container, armed, image=self.image or tools_image(self.client))
            self.sidecar.start()
            event = self.sidecar.next_event(APPLY_TIMEOUT)
        except AgentFailed as exc:
            self._let_go()
            raise FaultError(f"{self.name} on {container.name}: {exc}") from exc
        except BaseException:
            self._let_go()
            raise
        if not isinstance(event, Ready):
            self._let_go()
            said = event.message if isinstance(event, Failed) else f"it said {event.tag}"
            raise FaultError(f"{self.name} on {container.name} could not be prepared: {said}")

    def apply(self) -> FaultRecord:
        if self.sidecar is not None and self._lab_and_target is not None:  # prepared: go
            lab, container = self._lab_and_target
            self.sidecar.send("apply")
        else:
            lab, container = self._target()
            self.sidecar = Agent(lab, container, self.spec, image=self.image or tools_image(self.client))
        try:
            if self.sidecar.container is None:
                self.sidecar.start()
            event = self.sidecar.next_event(APPLY_TIMEOUT)
        except AgentFailed as exc:
            self._let_go()
            raise FaultError(f"{self.name} on {container.name}: {exc}") from exc
        except BaseException:  # Ctrl-C while applying: no __exit__ will undo it, so let go here
            self._let_go()
            raise
        if not isinstance(event, Applied):
            self._let_go()
            said = event.message if isinstance(event, Failed) else f"it said {event.tag}"
            message = f"{self.name} on {container.name} could not be applied: {said}"
            if self.name == "latency" and "qdisc kind is unknown" in message:
                raise NetemUnavailable(f"{message} (this kernel has no netem)")
            if isinstance(event, Failed) and event.clean is False:
                raise FaultNotUndone(f"{message}; and the namespace is not back: {list(event.diff)}")
            raise FaultError(message)
        self.record = FaultRecord(
            fault=self.name,
            target=container.name,
            mechanism=f"{event.mechanism} (sidecar in the target's network namespace)",
            params={**self.params, **({"seconds": self.seconds} if self.seconds is not None else {})},
            applied_at=event.at,
            commands=list(event.commands),
        )
        return self.record

    def wait(self) -> None:
        """Hold until the agent ends the fault by itself (``seconds``), or until Ctrl-C without them."""
        if self.seconds is None:
            super().wait()  # returns only by Ctrl-C
            return
        self._finish(timeout=self.seconds + UNDO_TIMEOUT)

    def undo(self) -> None:
        if self.sidecar is not None and self.record is None:  # prepared, never applied: the agent just goes
            self._let_go()
            self.sidecar = None
            return
        if self.sidecar is None or self.record is None or self.record.undone_at is not None:
            return
        self.sidecar.send("undo")
        self._finish(timeout=UNDO_TIMEOUT)

    def _finish(self, timeout: float) -> None:
        assert self.sidecar is not None and self.record is not None
        if self.record.undone_at is not None:
            return
        try:
            event = self.sidecar.next_event(timeout)
        except AgentFailed as exc:
            self.record.undone_at, self.record.verified = time.time(), False
            raise FaultNotUndone(f"{self.name} on {self.record.target}: {exc}; run `socklab clean`") from exc
        finally:
            self._let_go()
        self.record.undone_at = event.at
        if not isinstance(event, Undone):
            self.record.verified = False
            self.record.detail = event.message if isinstance(event, Failed) else f"the agent said {event.tag}"
            raise FaultNotUndone(f"{self.name} on {self.record.target}: {self.record.detail}; run `socklab clean`")
        self.record.undone_because = event.reason
        self.record.verified = event.clean
        if not self.record.verified:
            self.record.detail = "; ".join([*event.diff, *event.errors])
            raise FaultNotUndone(
                f"{self.name} on {self.record.target}: the namespace is not back to its state before: "
                f"{self.record.detail}"
            )


def loss(
    target: LabContainer | Container | str, *, percent: float, direction: str = "both", **kwargs: Any
) -> NetworkFault:
    """Drop ``percent`` % of the packets at random (iptables ``statistic``): to the target, from it, or both."""
    if not 0 < percent <= 100:
        raise ValueError(f"percent {percent} must be in (0, 100]")
    return NetworkFault(target, "loss", percent=float(percent), direction=direction, **kwargs)


def partition(target: LabContainer | Container | str, *, direction: str = "both", **kwargs: Any) -> NetworkFault:
    """Drop every packet (loopback excepted), to the target, from it, or both: silence, not a refusal."""
    return NetworkFault(target, "partition", direction=direction, **kwargs)


def reset(target: LabContainer | Container | str, **kwargs: Any) -> NetworkFault:
    """Answer every incoming TCP segment with a reset: connects are refused, connections cut."""
    return NetworkFault(target, "reset", **kwargs)


def rate(target: LabContainer | Container | str, *, kbit: int, **kwargs: Any) -> NetworkFault:
    """Limit what the target sends to ``kbit`` kbit/s (tbf qdisc on each interface)."""
    if kbit < 1:
        raise ValueError(f"kbit {kbit} must be at least 1")
    return NetworkFault(target, "rate", kbit=int(kbit), **kwargs)


def netem_latency(
    target: LabContainer | Container | str, *, ms: float, jitter_ms: float = 0.0, **kwargs: Any
) -> NetworkFault:
    """Delay what the target sends by ``ms`` ± ``jitter_ms`` (netem; NetemUnavailable where there is none)."""
    if ms <= 0 or jitter_ms < 0:
        raise ValueError("ms must be > 0 and jitter_ms >= 0")
    return NetworkFault(target, "latency", ms=float(ms), jitter_ms=float(jitter_ms), **kwargs)


@contextlib.contextmanager
def packet_loss(lab: Lab, target: LabContainer, percent: float, *, progress: Progress = quiet) -> Iterator[str]:
    """``loss`` on a container of ``lab`` for a ``with`` block; yields what was applied, in words."""
    with loss(target, percent=percent, lab=lab) as record:
        progress(f"{percent:g} % loss on {target.name}: {record.mechanism}")
        yield f"{record.mechanism}: {'; '.join(record.commands)}"
