"""A network partition between two swarm nodes: a named, undoable fault that reports what it did.

The overlay between two engines is VXLAN: each task's packet to another node is wrapped in UDP to port 4789
and sent from the node's own network namespace. Dropping that UDP both ways in one node (iptables, in the
node container, where its dockerd's overlay lives) cuts every overlay connection between the two nodes,
while the swarm's control plane (2377/tcp, 7946) stays up, so the nodes stay Ready, tasks still get
scheduled and the names still resolve: what breaks is exactly the traffic between the tasks. Healing deletes
the same rules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import TracebackType

import docker

from socklab.swarm.cluster import Node

VXLAN_PORT = 4789


class FaultError(RuntimeError):
    """iptables refused a rule; the message carries its output."""


@dataclass
class Partition:
    """``with Partition(host, node2, node1):`` the overlay between the two is cut; it heals on leaving."""

    host: docker.DockerClient
    inside: Node  # the node whose iptables get the rules
    other: Node
    applied_at: float | None = field(default=None, init=False)
    healed_after: float | None = field(default=None, init=False)

    @property
    def name(self) -> str:
        return f"partition {self.inside.hostname} | {self.other.hostname}"

    def _rules(self) -> list[list[str]]:
        udp = ["-p", "udp", "--dport", str(VXLAN_PORT), "-j", "DROP"]
        return [["OUTPUT", "-d", self.other.address, *udp], ["INPUT", "-s", self.other.address, *udp]]

    def _iptables(self, action: str, rule: list[str]) -> None:
        container = self.host.containers.get(self.inside.container)
        code, output = container.exec_run(["iptables", "-w", action, *rule])
        if code != 0:
            raise FaultError(f"{self.name}: iptables {action} {' '.join(rule)}: {output.decode(errors='replace')}")

    def apply(self) -> None:
        done: list[list[str]] = []
        try:
            for rule in self._rules():
                self._iptables("-I", rule)
                done.append(rule)
        except BaseException:
            for rule in done:  # never leave half a partition behind
                self._iptables("-D", rule)
            raise
        self.applied_at = time.monotonic()

    def heal(self) -> None:
        if self.applied_at is None:
            return
        for rule in self._rules():
            self._iptables("-D", rule)
        self.healed_after = time.monotonic() - self.applied_at
        self.applied_at = None

    def report(self) -> str:
        what = f"{self.name}: VXLAN (udp/{VXLAN_PORT}) between {self.inside.address} and {self.other.address} dropped"
        if self.healed_after is not None:
            return f"{what} for {self.healed_after:.1f} s, then healed"
        return f"{what} (still in force)" if self.applied_at is not None else f"{what}: not applied"

    def __enter__(self) -> Partition:
        self.apply()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.heal()
