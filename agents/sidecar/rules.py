"""Which commands apply and undo each network fault, and how a namespace's state is compared: pure functions.

Every iptables rule lives in a chain of its own (``SOCKLAB-F-<id>``) reached by one jump from INPUT
and/or OUTPUT, and every qdisc carries the handle ``5c0c:``; so undoing is exact, and a leftover from a
crash is recognisable by name alone (``clean``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .protocol import KINDS, FaultSpec

__all__ = ["CHAIN_PREFIX", "KINDS", "QDISC_HANDLE", "Plan", "plan"]

CHAIN_PREFIX = "SOCKLAB-F-"
QDISC_HANDLE = "5c0c:"


@dataclass(frozen=True)
class Plan:
    """Commands (argv lists) that apply a fault, in order, and the ones that undo it, in order."""

    mechanism: str
    apply: list[list[str]] = field(default_factory=list)
    undo: list[list[str]] = field(default_factory=list)


def chain_name(fault_id: str) -> str:
    return f"{CHAIN_PREFIX}{fault_id}"[:28]  # iptables chain names are at most 28 characters


def _jumps(chain: str, directions: tuple[str, ...]) -> list[list[str]]:
    """The jump rules into our chain; loopback is left alone (health checks, the namespace's own talk)."""
    jumps = []
    if "in" in directions:
        jumps.append(["INPUT", "!", "-i", "lo", "-j", chain])
    if "out" in directions:
        jumps.append(["OUTPUT", "!", "-o", "lo", "-j", chain])
    return jumps


def _iptables_plan(mechanism: str, chain: str, rule: list[str], directions: tuple[str, ...]) -> Plan:
    jumps = _jumps(chain, directions)
    apply = [["iptables", "-w", "-N", chain], ["iptables", "-w", "-A", chain, *rule]]
    apply += [["iptables", "-w", "-I", *jump] for jump in jumps]
    undo = [["iptables", "-w", "-D", *jump] for jump in jumps]
    undo += [["iptables", "-w", "-F", chain], ["iptables", "-w", "-X", chain]]
    return Plan(mechanism, apply, undo)


# A fault's direction (protocol.DIRECTIONS) as the chains it hooks: to the target is INPUT, from it OUTPUT.
HOOKS = {"to": ("in",), "from": ("out",), "both": ("in", "out")}
SAID = {"to": " (incoming only)", "from": " (outgoing only)", "both": ""}


def plan(spec: FaultSpec, interfaces: list[str]) -> Plan:
    """The commands for one fault ``spec`` (kind, id, and the kind's parameters, validated) on these interfaces."""
    kind = spec.kind
    chain = chain_name(spec.id)
    direction = spec.direction or "both"
    if kind == "loss" and spec.percent is not None:
        probability = spec.percent / 100
        rule = ["-m", "statistic", "--mode", "random", "--probability", f"{probability:.4f}", "-j", "DROP"]
        said = f"iptables: statistic random {spec.percent:g} % DROP{SAID[direction]}"
        return _iptables_plan(said, chain, rule, HOOKS[direction])
    if kind == "partition":
        return _iptables_plan(f"iptables: DROP everything{SAID[direction]}", chain, ["-j", "DROP"], HOOKS[direction])
    if kind == "reset":
        rule = ["-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"]
        return _iptables_plan("iptables: REJECT --reject-with tcp-reset", chain, rule, ("in",))
    if kind == "rate" and spec.kbit is not None:
        kbit = spec.kbit
        burst = max(3200, kbit * 1000 // 8 // 10)  # bytes: a tenth of a second, at least two full frames
        qdisc = ["tbf", "rate", f"{kbit}kbit", "burst", str(burst), "latency", "1s"]
        return _qdisc_plan(f"tc: tbf rate {kbit} kbit", qdisc, interfaces)
    if kind == "latency" and spec.ms is not None:
        qdisc = ["netem", "delay", f"{spec.ms:g}ms"]
        if spec.jitter_ms:
            qdisc.append(f"{spec.jitter_ms:g}ms")
        return _qdisc_plan(f"tc: netem delay {spec.ms:g} ms ± {spec.jitter_ms or 0:g} ms", qdisc, interfaces)
    raise ValueError(f"no plan for fault kind {kind!r}; known: {', '.join(KINDS)}")  # FaultSpec checked the rest


def _qdisc_plan(mechanism: str, qdisc: list[str], interfaces: list[str]) -> Plan:
    apply = [["tc", "qdisc", "add", "dev", dev, "root", "handle", QDISC_HANDLE, *qdisc] for dev in interfaces]
    undo = [["tc", "qdisc", "del", "dev", dev, "root", "handle", QDISC_HANDLE] for dev in interfaces]
    return Plan(f"{mechanism} on {', '.join(interfaces)}", apply, undo)


def interfaces_from(ip_link: str) -> list[str]:
    """Interface names from ``ip -o link show``, loopback excluded (``eth0@if12`` -> ``eth0``)."""
    names = []
    for line in ip_link.splitlines():
        match = re.match(r"\d+:\s+([^:@\s]+)", line)
        if match and match[1] != "lo":
            names.append(match[1])
    return names


def normalize_iptables(saved: str) -> list[str]:
    """The rules of ``iptables-save``, each prefixed with its table, without what changes by itself.

    Dropped: comments (dates), packet counters, and built-in chains with the default ACCEPT policy (the
    nf_tables backend creates an empty table the first time a rule goes in, and keeps it).
    """
    lines, table = [], ""
    for line in saved.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith(":"):
            name, policy = line[1:].split()[:2]
            if policy != "ACCEPT":  # a user chain ("-") or a changed built-in policy
                lines.append(f"{table} :{name} {policy}")
        elif line.startswith("-"):
            lines.append(f"{table} {line.strip()}")
    return lines


def normalize_qdiscs(shown: str) -> list[str]:
    """``tc qdisc show`` lines, whitespace-normalised."""
    return [" ".join(line.split()) for line in shown.splitlines() if line.strip()]


def difference(before: list[str], after: list[str]) -> list[str]:
    """What differs, as ``+ line`` (now there, was not) and ``- line`` (gone); empty when equal."""
    gone = [f"- {line}" for line in before if line not in after]
    new = [f"+ {line}" for line in after if line not in before]
    return gone + new


def leftovers(saved: str, qdiscs: str) -> list[list[str]]:
    """Commands that remove whatever a crashed fault left: jumps into our chains, the chains, our qdiscs."""
    commands: list[list[str]] = []
    chains = set()
    for line in saved.splitlines():
        if line.startswith("-A ") and f"-j {CHAIN_PREFIX}" in line:
            commands.append(["iptables", "-w", "-D", *line[3:].split()])
        match = re.match(rf":({re.escape(CHAIN_PREFIX)}\S+)", line)
        if match:
            chains.add(match[1])
    for chain in sorted(chains):
        commands += [["iptables", "-w", "-F", chain], ["iptables", "-w", "-X", chain]]
    for line in qdiscs.splitlines():
        match = re.match(rf"qdisc \S+ {re.escape(QDISC_HANDLE)} dev (\S+) root", line.strip())
        if match:
            commands.append(["tc", "qdisc", "del", "dev", match[1], "root", "handle", QDISC_HANDLE])
    return commands
