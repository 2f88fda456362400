"""``crash``: the server goes away four ways while its client waits for the answer; what the client sees.

Four fork servers (the probes' server, delay D), each with one client host's two connections waiting for
their answer, one with SO_KEEPALIVE (shortened: TCP_KEEPIDLE 1 s, TCP_KEEPINTVL 1 s, TCP_KEEPCNT 3) and
one without. Then: ``kill``, the processes serving them are killed (SIGKILL; the host stays up);
``partition``, the server's host is gone (every packet in and out of its network namespace dropped, the
faults' partition); ``pause``, the server's processes are frozen (docker pause) and later thawed; ``stop``,
a clean shutdown (docker stop: SIGTERM, the server stops accepting and lets its children answer). The
client notes what arrives and when (FIN, RST, the answer, ETIMEDOUT, nothing); tcpdump beside it shows it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from socklab.experiments.capture import capture, ladder, segments, squeeze
from socklab.experiments.crash_rules import KEEPALIVE, differences, outcome
from socklab.experiments.record import Result
from socklab.experiments.stage import ProbeFailed, Stage
from socklab.faults.network import partition
from socklab.faults.process import pause
from socklab.faults.record import FaultRecord, record_applied, record_undone
from socklab.lab.containers import LabContainer
from socklab.progress import Progress, quiet

NAME = "crash"
CLAIM = (
    "a crashed server process closes its connections (the client reads EOF; a write then draws RST); a crashed "
    "host says nothing, and only a timeout, SO_KEEPALIVE's probes, tells the client its peer is dead"
)
PORT = 9736
VARIANTS = ("kill", "partition", "pause", "stop")
THAW_LATE = 1.5  # seconds: the paused server is thawed this long after its answer was due
MEANING = {
    "kill": "the processes serving the connections killed (SIGKILL), the host still up",
    "partition": "the server's host gone: every packet in and out of its namespace dropped (iptables)",
    "pause": f"the server's processes frozen (docker pause), thawed {THAW_LATE:g} s after the answer was due",
    "stop": "a clean shutdown: docker stop (SIGTERM; the server lets its children answer, then exits)",
}


def _start_server(stage: Stage, variant: str, delay: float) -> LabContainer:
    command = ["probes.server", "--port", str(PORT), "--model", "fork", "--sigchld", "default"]
    server = stage.start(f"server-{variant}", [*command, "--on-term", "drain", "--delay", str(delay)], alias=variant)
    stage.wait_for_event(server, "listening")
    return server


def _recorded(fault: str, server: LabContainer, mechanism: str, applied: float, done: float) -> None:
    """A fault done by hand, in the run's event log as the faults package's own are (the live page's banner)."""
    record = FaultRecord(fault, server.name, mechanism, applied_at=applied, undone_at=done, undone_because="over")
    record_applied(record)
    record_undone(record)


def _kill_children(stage: Stage, server: LabContainer) -> float:
    """SIGKILL the server's children (one per connection); the time they were signalled."""
    children = [str(e["child"]) for e in stage.wait_for_events(server, "forked", 2)]
    status, output = server.exec(["python", "-m", "probes.kill", "--signal", "SIGKILL", *children])
    if status != 0:
        raise ProbeFailed(f"killing {children} in {server.name}: {output[-1000:]}")
    at = float(stage.events_of(output, "signalled")[0]["at"])
    _recorded("kill", server, f"SIGKILL to the children {', '.join(children)} (docker exec)", at, at)
    return at


def _stop(server: LabContainer, grace: float) -> float:
    at = time.time()
    server.stop(timeout=grace)
    _recorded("stop", server, "docker stop: SIGTERM, the server drains", at, time.time())
    return at


def run(
    *,
    probes_image: str,
    delay: float = 8.0,
    watch: float = 6.5,
    variants: tuple[str, ...] = VARIANTS,
    progress: Progress = quiet,
    **_: Any,  # the lab images, which this experiment does not use
) -> Result:
    result = Result(NAME, CLAIM)
    started = time.monotonic()
    idle, interval, count = KEEPALIVE
    result.did += [
        f"{len(variants)} fork servers (probes), each answering after {delay:g} s; a client host opens two "
        f"connections to each, sends 'A' and waits: one with SO_KEEPALIVE (TCP_KEEPIDLE {idle} s, TCP_KEEPINTVL "
        f"{interval} s, TCP_KEEPCNT {count}), one without",
        *(f"{v}: {MEANING[v]}" for v in variants),
        f"the client watches {watch:g} s after each fault: what its recv() returns, when, and its own TCP_INFO; "
        "a connection closed without an answer is written to once more (what does a dead peer say?); tcpdump "
        "on the client's interface",
    ]
    faults: dict[str, dict[str, Any]] = {}
    with Stage(NAME, probes_image=probes_image, progress=progress) as stage, ThreadPoolExecutor(4) as pool:
        servers = dict(zip(variants, pool.map(lambda v: _start_server(stage, v, delay), variants), strict=True))
        targets = [f"--target={v}={v}" for v in variants]
        keepalive = ["--idle", str(idle), "--interval", str(interval), "--count", str(count)]
        client = stage.start("client", ["probes.crash", *targets, *keepalive, "--watch", str(delay + watch + 20)])
        stage.wait_for_event(client, "ready")
        with capture(stage, client) as dump, contextlib.ExitStack() as held:
            client.signal("SIGUSR1")
            sent_at = stage.wait_for_event(client, "sent")["at"]
            for server in servers.values():
                stage.wait_for_events(server, "forked", 2)
            faults = _apply_all(stage, servers, held, pool, sent_at + delay)
            _watch_and_thaw(stage, client, faults, watch, sent_at + delay)
            client.signal("SIGUSR2")
            done = stage.wait_for_event(client, "done", timeout=30)
    records = done["connections"]
    found = segments(dump, PORT)
    variants_found: dict[str, Any] = {}
    for v in variants:
        ends = {r["keepalive"]: r for r in records if r["target"] == v}
        variants_found[v] = {
            "fault_at": faults[v]["at"],
            "released_at": faults[v].get("released_at"),
            **{
                ("keepalive" if ka else "plain"): outcome(r, faults[v]["at"], faults[v].get("released_at"))
                for ka, r in ends.items()
            },
        }
        for ka, r in ends.items():
            wire = squeeze(ladder(found, r["local"], since=faults[v]["at"], until=done["at"]))
            variants_found[v]["keepalive" if ka else "plain"]["wire"] = wire
    result.numbers = {
        "delay": delay,
        "watch_seconds": watch,
        "keepalive": {"idle": idle, "interval": interval, "count": count},
        "variants": variants_found,
        "client_counters": done["counters"],
    }
    result.observed += _describe(variants_found, done["counters"])
    result.differences += differences(variants_found, watch)
    result.seconds = time.monotonic() - started
    return result


def _apply_all(
    stage: Stage, servers: dict[str, LabContainer], held: contextlib.ExitStack, pool: ThreadPoolExecutor, answer: float
) -> dict[str, dict[str, Any]]:
    """The partition first (its agent is the slowest to start), then the others at once; each one's time."""
    faults: dict[str, dict[str, Any]] = {}
    if "partition" in servers:
        record = held.enter_context(partition(servers["partition"], lab=stage.lab))
        faults["partition"] = {"at": record.applied_at, "mechanism": record.mechanism}
    actions: dict[str, Callable[[], float]] = {
        "kill": lambda: _kill_children(stage, servers["kill"]),
        "pause": lambda: _pause(stage, servers["pause"], held, faults),
        "stop": lambda: _stop(servers["stop"], grace=30),
    }
    chosen = {v: a for v, a in actions.items() if v in servers}
    pending = {v: pool.submit(a) for v, a in chosen.items() if v != "stop"}
    if "stop" in chosen:  # it returns only once the server has drained: its time is when it began
        faults["stop"] = {"at": time.time(), "future": pool.submit(chosen["stop"])}
    for v, future in pending.items():
        faults.setdefault(v, {})["at"] = future.result()
    late = [v for v, f in faults.items() if f["at"] > answer - 0.5]
    if late:
        raise ProbeFailed(f"the faults {late} came after the servers had answered: the machine is too slow today")
    return faults


def _pause(stage: Stage, server: LabContainer, held: contextlib.ExitStack, faults: dict[str, Any]) -> float:
    fault = pause(server.sdk, client=stage.docker)
    record = held.enter_context(fault)
    faults["pause"] = {"fault": fault}
    return float(record.applied_at or time.time())


def _watch_and_thaw(
    stage: Stage, client: LabContainer, faults: dict[str, dict[str, Any]], watch: float, answer: float
) -> None:
    """Wait out the watch; thaw the paused server once its answer is overdue, wait for that answer; let the
    stop finish."""
    last = max(f["at"] for f in faults.values())
    thaw = max(last + watch, answer + THAW_LATE) if "pause" in faults else last + watch
    time.sleep(max(0.0, thaw - time.time()))
    if "pause" in faults:
        faults["pause"]["released_at"] = time.time()  # the thaw begins; the answer may come before unpause returns
        faults["pause"]["fault"].undo()
        stage.wait_for_line(client, r'"target": "pause", "keepalive": (true|false), "what": "answer"', 30)
    if "stop" in faults:
        faults["stop"].pop("future").result(timeout=answer - time.time() + 30)
    for fault in faults.values():
        fault.pop("fault", None)


STEPS = {
    "answer": "the answer at {t}",
    "eof": "EOF (FIN) at {t}",
    "reset": "the write drew RST at {t}",
    "timeout": "ETIMEDOUT at {t}",
    "second_write": "a second write: {result}",
}


def _steps(connection: dict[str, Any]) -> str:
    said = [
        STEPS.get(s["what"], s["what"] + " at {t}").format(t=f"{s['after_s']:+.2f} s", result=s.get("result"))
        for s in connection["seen"]
        if s["what"] != "write_after_eof"
    ]
    return "; ".join(said) or "nothing at all"


def _describe(variants: dict[str, Any], counters: dict[str, int]) -> list[str]:
    lines = ["seconds after the fault, as the client saw it (recv() and its own TCP_INFO), and on its interface:"]
    for v, found in variants.items():
        for key in ("plain", "keepalive"):
            seen = found[key]
            lines.append(f"{v:<9} keepalive {('on' if key == 'keepalive' else 'off'):<3}  {_steps(seen)}")
            lines.append(f"{'':<25}wire: {' '.join(seen['wire']) or '-'}")
    lines.append(
        f"client namespace: {counters.get('TCPKeepAlive', 0)} keepalive probes sent (TcpExt TCPKeepAlive), "
        f"{counters.get('TCPAbortOnTimeout', 0)} connection(s) given up on timeout (TCPAbortOnTimeout)"
    )
    return lines
