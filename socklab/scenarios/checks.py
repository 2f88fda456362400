"""What a schema cannot say about a scenario, checked before anything starts: each problem one line naming
where the step was written. (Ids, undo, targets the fault can take, hosts that exist at that moment, a swap
while the server is under a fault, steps after the end.)"""

from __future__ import annotations

from socklab.faults.catalog import FAULTS
from socklab.scenarios.model import Clients, End, Fault, Scale, Scenario, Step, Swap, Undo, spoken


def hosts_at(scenario: Scenario, at: float, before: int) -> int:
    """Client hosts at offset ``at``: the lab's, then each ``scale`` step before that one (file order)."""
    hosts = scenario.lab.clients
    for step in scenario.method:
        if isinstance(step.action, Scale) and (step.at, step.index) < (at, before):
            hosts = step.action.count
    return hosts


def continuous_hosts(scenario: Scenario, step: Step) -> list[int]:
    """The hosts making continuous exchanges when ``step`` fires (started before it, scaled since)."""
    running: list[int] = []
    for earlier in scenario.method:
        if (earlier.at, earlier.index) >= (step.at, step.index):
            break
        if isinstance(earlier.action, Clients) and earlier.action.continuous:
            running = list(range(1, earlier.action.count + 1))
        if isinstance(earlier.action, Scale) and running:
            running = list(range(1, earlier.action.count + 1))
    return running


def wave_hosts(scenario: Scenario, step: Step, count: int) -> list[int]:
    """A wave's hosts: the first ``count`` that are not making continuous exchanges then."""
    busy = set(continuous_hosts(scenario, step))
    free = [h for h in range(1, hosts_at(scenario, step.at, step.index) + 1) if h not in busy]
    return free[:count]


def fault_windows(scenario: Scenario) -> dict[int, tuple[float, float]]:
    """Each fault step's index -> (from, to): its ``for``, or until its ``undo``, or until the end."""
    undone = {step.action.id: step.at for step in scenario.method if isinstance(step.action, Undo)}
    windows = {}
    for step in scenario.method:
        if isinstance(step.action, Fault):
            if step.action.seconds is not None:
                end = step.at + step.action.seconds
            else:
                end = undone.get(step.id or "", scenario.end_at)
            windows[step.index] = (step.at, end)
    return windows


def _target(scenario: Scenario, step: Step, fault: Fault) -> list[str]:
    kind = FAULTS[fault.name]
    target = fault.target
    said = []
    if target.subject == "server" and "server" not in kind.targets:
        said.append(f"{fault.name} cannot target the server (it targets: {', '.join(kind.targets)})")
    if target.subject != "server" and "client" not in kind.targets:
        said.append(f"{fault.name} targets only the server (it stands in front of it), not {target.subject}")
    if target.subject == "clients" and target.mode is None:
        said.append("target clients needs a mode: one, all or fixed-percent (with value)")
    if target.subject != "clients" and (target.mode is not None or target.value is not None):
        said.append("mode and value go with target clients only")
    if target.mode == "fixed-percent" and target.value is None:
        said.append("mode fixed-percent needs value (a percentage of the client hosts)")
    if target.mode in ("one", "all") and target.value is not None:
        said.append(f"mode {target.mode} takes no value")
    if target.subject.startswith("client-"):
        number, hosts = int(target.subject.split("-")[1]), hosts_at(scenario, step.at, step.index)
        if number > hosts:
            said.append(f"{target.subject} does not exist at {spoken(step.at)}: there are {hosts} client hosts")
    if fault.seconds == 0 and not kind.downtime:
        said.append(f"for 0s: {fault.name} would hold for no time (only kill, stop and restart take 0: at once)")
    return said


def _undo(scenario: Scenario, step: Step, undo: Undo, undone: set[str]) -> list[str]:
    faults = {s.id: s for s in scenario.method if s.id and isinstance(s.action, Fault)}
    target = faults.get(undo.id)
    if target is None:
        return [f"undo {undo.id!r}: no fault step has that id (ids: {', '.join(faults) or 'none'})"]
    said = []
    if (target.at, target.index) >= (step.at, step.index):
        said.append(f"undo {undo.id!r} comes before its fault (at {spoken(target.at)})")
    assert isinstance(target.action, Fault)
    if target.action.seconds is not None:
        said.append(f"undo {undo.id!r}: that fault ends by itself (for {spoken(target.action.seconds)})")
    if undo.id in undone:
        said.append(f"undo {undo.id!r} twice")
    undone.add(undo.id)
    return said


def _swaps(scenario: Scenario) -> list[str]:
    """A swap replaces the server: a fault still on the old one would be undone on a server that is gone."""
    said = []
    windows = fault_windows(scenario)
    by_index = {step.index: step for step in scenario.method}
    for step in scenario.method:
        if not isinstance(step.action, Swap):
            continue
        for index, (begin, end) in windows.items():
            fault = by_index[index].action
            assert isinstance(fault, Fault)
            if fault.target.subject == "server" and begin <= step.at < end:
                said.append(
                    f"{step.where}: swap at {spoken(step.at)} while {fault.name} holds the server "
                    f"({spoken(begin)} to {spoken(end)}): undo it (or end it) before the swap"
                )
    return said


def problems(scenario: Scenario) -> list[str]:
    said: list[str] = []
    ids: set[str] = set()
    undone: set[str] = set()
    continuous_since: float | None = None
    end = scenario.end_at
    ends = [step for step in scenario.method if isinstance(step.action, End)]
    for step in scenario.method:
        here: list[str] = []
        if step.id is not None:
            here += [f"id {step.id!r} is given twice"] if step.id in ids else []
            ids.add(step.id)
        action = step.action
        if step.at > end:
            here.append(f"at {spoken(step.at)} comes after the end ({spoken(end)})")
        if isinstance(action, End) and step is not ends[0]:
            here.append("a second end")
        if isinstance(action, Fault):
            here += _target(scenario, step, action)
        elif isinstance(action, Undo):
            here += _undo(scenario, step, action, undone)
        elif isinstance(action, Clients):
            hosts = hosts_at(scenario, step.at, step.index)
            if action.count > hosts:
                here.append(f"clients count {action.count}: there are {hosts} client hosts at {spoken(step.at)}")
            elif not action.continuous and len(wave_hosts(scenario, step, action.count)) < action.count:
                busy = len(continuous_hosts(scenario, step))
                here.append(
                    f"clients count {action.count}: {busy} of the {hosts} client hosts make continuous exchanges "
                    f"at {spoken(step.at)}; a wave needs hosts of its own (lab.clients, or scale)"
                )
            if action.continuous and continuous_since is not None:
                here.append(f"continuous exchanges already run since {spoken(continuous_since)}")
            if action.continuous:
                continuous_since = step.at
        said += [f"{step.where}: method[{step.index}]: {text}" for text in here]
    return said + _swaps(scenario)
