"""The agent's life: snapshot, apply, hold, undo, verify, report — each step one JSON line on stdout.

``python3 -m sidecar '<spec as JSON>'``. The spec (``protocol.parse_spec``) names a ``kind`` (a fault
from ``protocol.KINDS``, or ``probe-netem``, ``clean``, ``wait-established``); each line the agent prints is
one ``protocol`` event. A spec that does not parse is one ``failed`` event saying why, and exit 2.

An armed fault (``armed``) first says ``ready`` and applies only when the holder writes ``apply`` on stdin
(EOF or SIGTERM before that: it exits without touching anything). A fault holds until the first of: its
``seconds`` run out, the holder writes ``undo`` on stdin, the holder's stdin closes (it died: only when
there is no ``seconds``, since a timed fault ends on time by itself), or SIGTERM (``socklab clean``, ``docker stop``).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections.abc import Callable

from . import rules
from .protocol import (
    Applied,
    Clean,
    Cleaned,
    Drained,
    Established,
    Event,
    Failed,
    FaultSpec,
    ProbeNetem,
    ProbeResult,
    ProtocolError,
    Ready,
    TimedOut,
    Undone,
    WaitDrained,
    WaitEstablished,
    parse_spec,
)

LINGER = 10.0  # after undoing, wait this long for the holder to read the result and let go


# SIGTERM only writes to this pipe; hold() and linger() watch it next to stdin. A signal can arrive at
# any moment (while applying, while printing), and must never cut the undo short or skip it.
_STOP_READ, _STOP_WRITE = os.pipe()


def emit(event: Event) -> None:
    print(event.to_json(), flush=True)


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv)}` failed ({done.returncode}): {done.stderr.strip()}")
    return done


def snapshot() -> dict[str, list[str]]:
    """The filter table (where our rules go; Docker's own DNS rules in nat need extensions a slim tools
    image may lack) and every qdisc."""
    return {
        "iptables": rules.normalize_iptables(run(["iptables-save", "-t", "filter"]).stdout),
        "qdiscs": rules.normalize_qdiscs(run(["tc", "qdisc", "show"]).stdout),
    }


def differences(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    return [f"{what}: {line}" for what in before for line in rules.difference(before[what], after[what])]


def _on_sigterm(_signum: int, _frame: object) -> None:
    os.write(_STOP_WRITE, b"T")


def _exit_on_sigterm(_signum: int, _frame: object) -> None:
    raise SystemExit(143)


def hold(seconds: float | None) -> str:
    """Wait until the fault should end; return why."""
    deadline = time.monotonic() + seconds if seconds is not None else None
    watching_stdin = True
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return "its time ran out"
        readable, _, _ = select.select([_STOP_READ, *([0] if watching_stdin else [])], [], [], remaining)
        if _STOP_READ in readable:
            return "SIGTERM"
        if not readable:
            continue
        data = os.read(0, 4096)
        if b"undo" in data:
            return "the holder asked"
        if not data:  # EOF: whoever started the fault is gone
            if deadline is None:
                return "its holder is gone"
            watching_stdin = False  # a timed fault still ends on time


def await_apply() -> bool:
    """An armed fault waits for its holder's ``apply``; False when the holder went away or SIGTERM came first."""
    while True:
        readable, _, _ = select.select([0, _STOP_READ], [], [])
        if _STOP_READ in readable:
            return False
        data = os.read(0, 4096)
        if b"apply" in data:
            return True
        if not data:
            return False


def linger() -> None:
    """Give the holder a moment to read the last line; leave at once if it is gone or lets go."""
    deadline = time.monotonic() + LINGER
    while (remaining := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([0, _STOP_READ], [], [], remaining)
        if _STOP_READ in readable:
            return
        if readable and (not (data := os.read(0, 4096)) or b"bye" in data):
            return


def undo(commands: list[list[str]]) -> list[str]:
    errors = []
    for argv in commands:
        done = run(argv, check=False)
        if done.returncode != 0:
            errors.append(f"`{' '.join(argv)}`: {done.stderr.strip()}")
    return errors


def own_view(state: dict[str, list[str]], spec: FaultSpec, plan: rules.Plan) -> dict[str, list[str]]:
    """The namespace as this fault answers for it: without another socklab fault's rules. A scenario may
    hold two faults on one target at once (a partition ending while a loss begins); each is verified, and
    swept, on its own, never the other's."""
    mine = rules.chain_name(spec.id)
    uses_qdiscs = any(argv[0] == "tc" for argv in plan.apply)
    return {
        "iptables": [line for line in state["iptables"] if rules.CHAIN_PREFIX not in line or mine in line],
        "qdiscs": [line for line in state["qdiscs"] if uses_qdiscs or rules.QDISC_HANDLE not in line],
    }


def fault(spec: FaultSpec) -> int:
    interfaces = rules.interfaces_from(run(["ip", "-o", "link", "show"]).stdout)
    plan = rules.plan(spec, interfaces)
    if spec.armed:
        emit(Ready(time.time(), plan.mechanism, interfaces=tuple(interfaces)))
        if not await_apply():
            return 0

    def mine() -> dict[str, list[str]]:
        return own_view(snapshot(), spec, plan)

    before = mine()  # when it applies, not when it was armed: another fault may have come or gone since
    applied: list[list[str]] = []
    try:
        for argv in plan.apply:
            run(argv)
            applied.append(argv)
    except RuntimeError as exc:
        undo(plan.undo)  # whatever part went in comes out; errors for the parts that never did are expected
        after = mine()
        left = tuple(differences(before, after))
        emit(Failed(time.time(), str(exc), mechanism=plan.mechanism, clean=after == before, diff=left))
        linger()
        return 2
    commands = tuple(" ".join(a) for a in applied)
    emit(Applied(time.time(), plan.mechanism, commands=commands, interfaces=tuple(interfaces)))
    reason = hold(spec.seconds)
    errors = undo(plan.undo)
    after = mine()
    diff = differences(before, after)
    if diff:  # one more try with the leftover sweep (of this fault's own rules) before failing loudly
        errors += undo(rules.leftovers("\n".join(after["iptables"]), "\n".join(after["qdiscs"])))
        after = mine()
        diff = differences(before, after)
    emit(Undone(time.time(), reason, clean=not diff, diff=tuple(diff), errors=tuple(errors)))
    linger()
    return 0 if not diff else 3


def probe_netem() -> int:
    """In a namespace of its own (network_mode none): can this kernel add a netem qdisc?"""
    argv = ["tc", "qdisc", "add", "dev", "lo", "root", "handle", rules.QDISC_HANDLE, "netem", "delay", "1ms"]
    done = run(argv, check=False)
    if done.returncode == 0:
        run(["tc", "qdisc", "del", "dev", "lo", "root"], check=False)
    emit(ProbeResult(time.time(), netem=done.returncode == 0, detail=done.stderr.strip()))
    return 0


def clean() -> int:
    """Remove what a crashed fault left in this namespace (found by our chain prefix and qdisc handle)."""
    commands = rules.leftovers(run(["iptables-save", "-t", "filter"]).stdout, run(["tc", "qdisc", "show"]).stdout)
    errors = undo(commands)
    emit(Cleaned(time.time(), commands=tuple(" ".join(c) for c in commands), errors=tuple(errors)))
    return 0 if not errors else 3


def wait_established(spec: WaitEstablished) -> int:
    """Wait until ``count`` TCP connections to local ``port`` are established (netlink INET_DIAG, through the
    observer's sampler, copied in beside this agent: the one reader of a namespace's sockets)."""
    from observer.sockets import Sampler

    sampler = Sampler()
    deadline = time.monotonic() + spec.timeout
    seen = 0
    while time.monotonic() < deadline:
        rows = sampler.sample()
        seen = sum(r.state == "ESTABLISHED" and r.local.rsplit(":", 1)[1] == str(spec.port) for r in rows)
        if seen >= spec.count:
            emit(Established(time.time(), count=seen))
            return 0
        time.sleep(0.05)
    emit(TimedOut(time.time(), count=seen))
    return 1


def wait_drained(spec: WaitDrained) -> int:
    """Wait until no TCP socket of local ``port`` holds unacknowledged bytes (netlink's send queue, the
    observer's sampler): a closed connection's answer still being retransmitted counts too."""
    from observer.sockets import Sampler

    sampler = Sampler()
    started = time.monotonic()
    held = 0
    while time.monotonic() - started < spec.timeout:
        rows = sampler.sample()
        held = sum(r.local.rsplit(":", 1)[1] == str(spec.port) and bool(r.send_q) for r in rows)
        if not held:
            emit(Drained(time.time(), waited=round(time.monotonic() - started, 3)))
            return 0
        time.sleep(0.02)
    emit(TimedOut(time.time(), count=held))
    return 1


def main(argv: list[str]) -> int:
    try:
        spec = parse_spec(argv[0] if argv else "")
    except ProtocolError as exc:  # nothing was touched: one line saying what is wrong with the spec
        emit(Failed(time.time(), f"bad spec: {exc}"))
        return 2
    task: Callable[[], int] | None = None
    if isinstance(spec, ProbeNetem):
        task = probe_netem
    elif isinstance(spec, Clean):
        task = clean
    elif isinstance(spec, WaitEstablished):
        task = lambda: wait_established(spec)  # noqa: E731 - a task like the others
    elif isinstance(spec, WaitDrained):
        task = lambda: wait_drained(spec)  # noqa: E731 - a task like the others
    # PID 1 in a container ignores SIGTERM unless it handles it: a fault undoes, a task just ends.
    signal.signal(signal.SIGTERM, _exit_on_sigterm if task is not None else _on_sigterm)
    try:
        if task is not None:
            return task()
        assert isinstance(spec, FaultSpec)
        return fault(spec)
    except Exception as exc:  # noqa: BLE001 - whatever happens, the holder gets one line saying it
        emit(Failed(time.time(), f"{type(exc).__name__}: {exc}"))
        return 2
