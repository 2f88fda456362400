"""What a lab is made of, apart from running it: containers, their networks, aliases, volumes and limits.

A ``Topology`` is pure data (no Docker): the throwaway lab, the compose demo and a swarm stack can run
the same one, a fault can name the container it targets, a capture the interface it listens on. Names
are derived from the run id, so everything one run makes is found by name and by label.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from socklab.wire.config import ClientConfig, ServerConfig

SERVER = "server"  # the server's role, and the alias clients dial
# A server's SIGTERM when its lab closes: it stops accepting and answers what it accepted (the drain); a
# server with nothing in flight exits at once, one that hangs is killed after this long.
SERVER_STOP_GRACE = 3.0
LAB_NETWORK = "lab"


@dataclass(frozen=True)
class Hardening:
    """The locked-down runtime our images tolerate; compose and the lab ask for it by default."""

    read_only: bool = True
    cap_drop: tuple[str, ...] = ("ALL",)
    no_new_privileges: bool = True
    pids_limit: int | None = 1024
    mem_limit: str | None = "512m"
    nofile: int | None = None  # RLIMIT_NOFILE (soft = hard) of the container's processes; None: the engine's
    # Writable places on a read-only root: /tmp for Python, /run/socklab for a Unix socket.
    tmpfs: Mapping[str, str] = field(default_factory=lambda: {"/tmp": "16m", "/run/socklab": "1m"})  # path -> size

    def docker_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the docker SDK's ``containers.run``/``create``."""
        kwargs: dict[str, Any] = {}
        if self.read_only:
            kwargs["read_only"] = True
            kwargs["tmpfs"] = dict(self.tmpfs)
        if self.cap_drop:
            kwargs["cap_drop"] = list(self.cap_drop)
        if self.no_new_privileges:
            kwargs["security_opt"] = ["no-new-privileges"]
        if self.pids_limit is not None:
            kwargs["pids_limit"] = self.pids_limit
        if self.mem_limit is not None:
            kwargs["mem_limit"] = self.mem_limit
        if self.nofile is not None:
            kwargs["ulimits"] = [{"Name": "nofile", "Soft": self.nofile, "Hard": self.nofile}]
        return kwargs


LOCKED_DOWN = Hardening()
CLIENT_LOCKED_DOWN = Hardening(pids_limit=64, mem_limit="128m")
UNRESTRICTED = Hardening(read_only=False, cap_drop=(), no_new_privileges=False, pids_limit=None, mem_limit=None)


@dataclass(frozen=True)
class Node:
    """One container: its role in the lab (``server``, ``client-3``), image, environment and place."""

    role: str
    image: str
    env: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    network: str | None = LAB_NETWORK  # None: no network at all, only loopback (network_mode none)
    # The role of another container of the lab whose network namespace this one joins (a sidecar that
    # reads or shapes that container's interfaces); it then has no network, aliases or address of its own.
    shares_network_with: str | None = None
    hardening: Hardening = UNRESTRICTED
    volumes: Mapping[str, str] = field(default_factory=dict)  # volume role -> mount path
    command: tuple[str, ...] | None = None  # None: the image's own command
    ipv4_address: str | None = None  # a fixed address on the lab network (needs a Lab with a subnet)
    extra: Mapping[str, Any] = field(default_factory=dict)  # further docker SDK keywords (cap_add, sysctls…)
    labels: Mapping[str, str] = field(default_factory=dict)  # beside the run's own labels
    # Host folders copied in before it starts: host path -> the folder it lands in (a sidecar's agent code).
    copies: Mapping[str, str] = field(default_factory=dict)
    # Seconds it gets to end by itself on SIGTERM (``docker stop``) when the lab closes, as the lesson ends a
    # server; None: removed at once (SIGKILL), for what has nothing to finish (clients, sidecars, probes).
    stop_grace: float | None = None

    def __post_init__(self) -> None:
        if (self.network is None or self.shares_network_with) and (self.aliases or self.ipv4_address):
            raise TopologyError(f"{self.role}: aliases and a fixed address need a network of its own")


class TopologyError(ValueError):
    """A topology asked for something contradictory (e.g. two delays for one server)."""


@dataclass(frozen=True)
class Topology:
    """Naming rules and node specs for one run; ``Lab`` turns it into containers."""

    run_id: str
    delay: float = 5.0
    port: int = 9736
    hardening: Hardening = LOCKED_DOWN
    client_hardening: Hardening = CLIENT_LOCKED_DOWN

    def network_name(self, role: str = LAB_NETWORK) -> str:
        return f"socklab-{self.run_id}" if role == LAB_NETWORK else f"socklab-{self.run_id}-{role}"

    def volume_name(self, role: str) -> str:
        return f"socklab-{self.run_id}-{role}"

    def container_name(self, role: str) -> str:
        return f"socklab-{self.run_id}-{role}"

    def server(self, image: str, *, env: Mapping[str, str] | None = None, role: str = SERVER) -> Node:
        """The server under the alias ``server``; ``env`` may add knobs but not contradict delay or port."""
        own = ServerConfig(delay=self.delay, port=self.port).to_env()
        extra = dict(env or {})
        for knob in ("delay", "port"):
            name = ServerConfig.variable(knob)
            value = own[name]
            if name in extra and _differs(extra[name], value):
                raise TopologyError(
                    f"server env {name}={extra[name]!r} contradicts the lab's {knob} "
                    f"{value}: set it on the lab, not in the environment"
                )
        return Node(
            role, image, {**own, **extra}, aliases=(SERVER,), hardening=self.hardening, stop_grace=SERVER_STOP_GRACE
        )

    def client(self, index: int, image: str, *, env: Mapping[str, str] | None = None) -> Node:
        base = ClientConfig(json=True, port=self.port, server=SERVER).to_env()
        return Node(f"client-{index}", image, {**base, **(env or {})}, hardening=self.client_hardening)

    def with_hardening(self, server: Hardening, client: Hardening | None = None) -> Topology:
        return replace(self, hardening=server, client_hardening=client or server)


def _differs(given: str, ours: str) -> bool:
    try:
        return float(given) != float(ours)
    except ValueError:
        return True
