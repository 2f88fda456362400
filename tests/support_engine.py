"""What one ``socklab`` command left on a shared engine the moment it returned, told apart from everyone else's.

``run_and_watch`` runs the command as a user does (a subprocess of the installed ``socklab``), lists the
engine right before it starts and again the moment it has returned, and afterwards asks the engine for
its event log of exactly that window. An object counts as the command's own when

- it carries the labels socklab puts on everything (``io.socklab.project``) with the command process's
  pid as ``io.socklab.owner-pid`` (every label set goes through ``run_labels``, in that process); or
- it was created inside the window (its ``create`` event) and its name or labels say it is the command's,
  whatever socklab labels it has or lacks (a container inherits its image's labels, so one that compose or
  swarm made from a test session's image carries the session's): a name containing one of the run ids
  the command's labelled objects carry (the topology's naming rule), the compose project or the stack
  namespace the test chose (or swarm's own networks, for a command that makes a swarm), or (for a
  volume) a container of the command mounted it.

Other helpers' objects created in the same window carry their own pid or name and are never counted,
so the test cannot fail because of them; an unlabelled object of ours is still caught, by name. What is
left is the command's leftovers: present at return, or destroyed only after it (an event later than the
return, a removal left to someone else). The engine's swarm state, the host's iptables chains, and the
rules of the namespaces the test names are compared before and after as well.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker

from socklab.lab.labels import OWNER_PID, PROJECT, RUN

SOCKLAB = shutil.which("socklab", path=str(Path(__file__).resolve().parent.parent / ".venv" / "bin")) or "socklab"
COMPOSE_PROJECT = "com.docker.compose.project"
STACK_NAMESPACE = "com.docker.stack.namespace"
SWARM_NAMES = ("ingress", "docker_gwbridge", "ingress_sbox")
COUNTERS = re.compile(r"\[\d+:\d+\]")
KEPT = ("socklab/probes:", "socklab/tools:", "socklab/base:")  # caches the commands document as kept


@dataclass(frozen=True)
class Thing:
    kind: str  # container, network, volume, image
    id: str
    name: str
    labels: Mapping[str, str]
    image: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.name}" + (f" ({self.image})" if self.image else "")


@dataclass(frozen=True)
class EngineState:
    things: dict[tuple[str, str], Thing]  # (kind, id) -> thing
    swarm: tuple[str, str]  # LocalNodeState, NodeID
    chains: frozenset[str]  # the host's iptables chains (filter and nat) and rules naming swarm's bridges
    rules: Mapping[str, str]  # container name -> iptables-save and tc qdiscs in its network namespace


def _host_chains() -> frozenset[str]:
    found: set[str] = set()
    for table in ("filter", "nat"):
        done = subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True, check=False)
        for line in done.stdout.splitlines():
            if line.startswith("-N ") or any(name in line for name in ("DOCKER-INGRESS", "docker_gwbridge")):
                found.add(f"{table}: {line}")
    return frozenset(found)


def _tables(saved: str) -> list[str]:
    """iptables-save's tables, counters and comments dropped, and without the empty ones.

    A table that has only its built-in chains, each with the ACCEPT policy, and no rule filters nothing:
    the kernel makes it on the first ``iptables`` call in a namespace and nothing short of ``nft`` (not in
    our tools image) removes it again, so it counts as no table.
    """
    kept: list[str] = []
    table: list[str] = []
    for line in saved.splitlines():
        if line.startswith("#"):
            continue
        table.append(COUNTERS.sub("", line).rstrip())
        if line == "COMMIT":
            empty = all(entry.startswith("*") or entry == "COMMIT" or entry.endswith(" ACCEPT") for entry in table)
            kept += [] if empty else table
            table = []
    return kept + table


def namespace_rules(client: docker.DockerClient, container: str) -> str:
    """iptables rules (see ``_tables``) and tc's qdiscs in a running container's network namespace."""
    pid = str(client.api.inspect_container(container)["State"]["Pid"])
    saved = subprocess.run(["nsenter", "-t", pid, "-n", "iptables-save"], capture_output=True, text=True, check=True)
    qdiscs = subprocess.run(["nsenter", "-t", pid, "-n", "tc", "qdisc", "show"], capture_output=True, text=True)
    return "\n".join([*_tables(saved.stdout), *qdiscs.stdout.splitlines()])


def snapshot(client: docker.DockerClient, namespaces: Sequence[str] = ()) -> EngineState:
    """The engine as it is now, read through the summary endpoints (no per-object inspect: fast)."""
    things: dict[tuple[str, str], Thing] = {}
    for c in client.api.containers(all=True):
        name = (c.get("Names") or ["?"])[0].lstrip("/")
        things["container", c["Id"]] = Thing("container", c["Id"], name, c.get("Labels") or {}, c.get("Image", ""))
    for n in client.api.networks():
        things["network", n["Id"]] = Thing("network", n["Id"], n["Name"], n.get("Labels") or {})
    for v in client.api.volumes().get("Volumes") or []:
        things["volume", v["Name"]] = Thing("volume", v["Name"], v["Name"], v.get("Labels") or {})
    for i in client.api.images():
        for tag in i.get("RepoTags") or [i["Id"]]:
            things["image", tag] = Thing("image", tag, tag, i.get("Labels") or {})
    swarm = client.info()["Swarm"]
    rules = {name: namespace_rules(client, name) for name in namespaces}
    return EngineState(things, (swarm["LocalNodeState"], swarm.get("NodeID") or ""), _host_chains(), rules)


@dataclass
class Watched:
    """One command's run: its output, the engine before and at return, and what of it the command left."""

    args: Sequence[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    before: EngineState
    at_return: EngineState
    ours: set[tuple[str, str]] = field(default_factory=set)  # (kind, id) of every object the command made
    late: list[str] = field(default_factory=list)  # removals that happened after the command returned
    others_in_window: list[str] = field(default_factory=list)  # made meanwhile by someone else (context only)

    def leftovers(self, *, kept_images: Iterable[str] = ()) -> list[str]:
        """What the command made that was still there when it returned, or went only after it returned."""
        allowed = tuple(kept_images)
        found = []
        for key in sorted(self.ours):
            thing = self.at_return.things.get(key)
            if thing is None or key in self.before.things:
                continue
            if thing.kind == "image" and thing.name.startswith(allowed):
                continue  # an image the command is documented to keep (a cache, built once)
            found.append(str(thing))
        return found + self.late

    def describe(self) -> str:
        tail = "\n".join((self.stdout + self.stderr).splitlines()[-15:])
        others = "; ".join(self.others_in_window[:10]) or "none"
        return f"socklab {' '.join(self.args)} exited {self.returncode}:\n{tail}\n(others' objects meanwhile: {others})"


def _ours_by_name(name: str, labels: Mapping[str, str], run_ids: set[str], projects: Sequence[str]) -> bool:
    """An unlabelled object is the command's when its name has one of its run ids (the topology's naming
    rule) or its compose project's / stack's prefix, or its compose or stack label names that project."""
    if any(run_id in name for run_id in run_ids) or name.startswith(tuple(f"{p}_" for p in projects)):
        return True
    return labels.get(COMPOSE_PROJECT) in projects or labels.get(STACK_NAMESPACE) in projects


def run_and_watch(
    client: docker.DockerClient,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    projects: Sequence[str] = (),
    namespaces: Sequence[str] = (),
    swarm: bool = False,
    timeout: float = 600,
) -> Watched:
    """Run ``socklab ARGS`` and account for everything it made on the engine (see the module's docstring).

    ``projects``: compose project names or stack namespaces the command is told to use (its objects carry
    those instead of socklab's labels); ``namespaces``: containers whose network rules must come back;
    ``swarm``: the command makes or leaves a swarm, so swarm's own networks made meanwhile are its own.
    """
    before = snapshot(client, namespaces)
    started_at = time.time()
    started = time.monotonic()
    process = subprocess.Popen(
        [SOCKLAB, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    returned_at = time.time()
    seconds = time.monotonic() - started
    at_return = snapshot(client, namespaces)
    watched = Watched(list(args), process.returncode, stdout, stderr, seconds, before, at_return)
    _account(client, watched, str(process.pid), started_at, returned_at, projects, SWARM_NAMES if swarm else ())
    return watched


def _account(
    client: docker.DockerClient,
    watched: Watched,
    pid: str,
    started_at: float,
    returned_at: float,
    projects: Sequence[str],
    swarm: Sequence[str],
) -> None:
    """Attribute the window's objects to the command (by pid label, then by name) and find late removals."""
    until = time.time() + 1  # the events up to the end of the second snapshot, which caught what was left
    events = list(client.events(since=started_at, until=until, decode=True))
    created: dict[tuple[str, str], dict[str, Any]] = {}
    run_ids: set[str] = set()
    for thing in [*watched.at_return.things.values()]:
        if thing.labels.get(PROJECT) and thing.labels.get(OWNER_PID) == pid and thing.labels.get(RUN):
            run_ids.add(thing.labels[RUN])
    for event in events:
        attributes = event.get("Actor", {}).get("Attributes", {}) or {}
        if event.get("Action") == "create" and event.get("Type") in ("container", "network", "volume"):
            created[event["Type"], event["Actor"]["ID"]] = attributes
            if attributes.get(OWNER_PID) == pid and attributes.get(RUN):
                run_ids.add(attributes[RUN])
    mine_containers: set[str] = set()
    for (kind, object_id), attributes in created.items():
        name = attributes.get("name", object_id)
        labelled_ours = attributes.get(OWNER_PID) == pid
        if labelled_ours or _ours_by_name(name, attributes, run_ids, projects) or name in swarm:
            watched.ours.add((kind, object_id))
            if kind == "container":
                mine_containers.add(object_id)
        else:
            watched.others_in_window.append(f"{kind} {name}")
    for event in events:  # anonymous volumes: mounted by one of the command's containers
        attributes = event.get("Actor", {}).get("Attributes", {}) or {}
        volume = ("volume", event.get("Actor", {}).get("ID", ""))
        mounted = event.get("Type") == "volume" and event.get("Action") == "mount"
        if mounted and attributes.get("container") in mine_containers and volume in created:
            watched.ours.add(volume)
    for key, thing in watched.at_return.things.items():  # new since before, labelled with our pid (images too)
        if thing.labels.get(PROJECT) and thing.labels.get(OWNER_PID) == pid and key not in watched.before.things:
            watched.ours.add(key)
    for event in events:
        key = (event.get("Type", ""), event.get("Actor", {}).get("ID", ""))
        removal = event.get("Action") == "destroy"
        if (
            removal
            and key in watched.ours
            and key not in watched.at_return.things
            and event["timeNano"] / 1e9 > returned_at
        ):
            name = (event["Actor"].get("Attributes") or {}).get("name", key[1][:12])
            late = event["timeNano"] / 1e9 - returned_at
            watched.late.append(f"{key[0]} {name} removed {late:.2f} s after the command returned")


def assert_left_nothing(watched: Watched, *, kept: Sequence[str] = KEPT, swarm_as_before: bool = True) -> None:
    left = watched.leftovers(kept_images=kept)
    assert left == [], f"left behind: {left}\n{watched.describe()}"
    if swarm_as_before:
        assert watched.at_return.swarm == watched.before.swarm, watched.describe()
    assert watched.at_return.chains == watched.before.chains, (
        f"host iptables chains changed: +{sorted(watched.at_return.chains - watched.before.chains)} "
        f"-{sorted(watched.before.chains - watched.at_return.chains)}\n{watched.describe()}"
    )
    assert watched.at_return.rules == watched.before.rules, f"namespace rules changed\n{watched.describe()}"
