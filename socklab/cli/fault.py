"""``socklab fault KIND --container NAME [--for SECONDS]``: one fault on any running container, ours or not;
``socklab faults``: the reliability suite (``socklab.cli.suite``).

One line when the fault is applied, one when it is undone (``--json``: each record as a JSON line).
Without ``--for`` the fault lasts until Ctrl-C (or SIGTERM); with it, until then or Ctrl-C.
"""

from __future__ import annotations

import json
import math
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

import docker

from socklab.cli.command import add_command
from socklab.cli.exit_codes import ExitCode
from socklab.errors import engine
from socklab.events.options import RecordOptions
from socklab.faults import network, process
from socklab.faults.netem import netem_support
from socklab.faults.record import Fault, FaultError, FaultRecord
from socklab.wire.knobs import env_name, option


@dataclass(frozen=True)
class FaultOptions(RecordOptions):
    container: str = option("", "the target container's name or id (any running container)", metavar="NAME")
    seconds: float = option(
        0.0, "end the fault after this long (0: at Ctrl-C)", metavar="SECONDS", flag="--for", env=env_name("for")
    )
    json: bool = option(False, "print each record as a JSON line")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.container:
            raise ValueError("--container NAME is required")
        if not math.isfinite(self.seconds) or self.seconds < 0:
            raise ValueError(f"--for {self.seconds} must be a number of seconds >= 0")

    def common(self) -> dict[str, Any]:
        return {"seconds": self.seconds or None}


@dataclass(frozen=True)
class LossOptions(FaultOptions):
    percent: float = option(0.0, "share of the packets dropped, in and out (0-100)", metavar="P")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.percent <= 100:
            raise ValueError(f"--percent {self.percent} must be in (0, 100]")


@dataclass(frozen=True)
class RateOptions(FaultOptions):
    kbit: int = option(0, "outgoing rate in kbit/s", metavar="K")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.kbit < 1:
            raise ValueError(f"--kbit {self.kbit} must be at least 1")


@dataclass(frozen=True)
class LatencyOptions(FaultOptions):
    ms: float = option(0.0, "added delay in milliseconds", metavar="M")
    jitter_ms: float = option(0.0, "± this many milliseconds at random", metavar="J")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.ms > 0 or self.jitter_ms < 0:
            raise ValueError("--ms must be > 0 and --jitter-ms >= 0")


@dataclass(frozen=True)
class StopOptions(FaultOptions):
    grace: int = option(process.DEFAULT_GRACE, "seconds between SIGTERM and SIGKILL", metavar="SECONDS")


@dataclass(frozen=True)
class DisconnectOptions(FaultOptions):
    network: str = option("", "the network to leave (needed when the container is on several)", metavar="NET")


Maker = Callable[[Any, docker.DockerClient], Fault]

# name -> (help, options, how to make the fault): the one list of the CLI's faults
FAULTS: dict[str, tuple[str, type[FaultOptions], Maker]] = {
    "loss": (
        "drop a share of the packets in and out (iptables statistic, from a sidecar)",
        LossOptions,
        lambda o, c: network.loss(o.container, percent=o.percent, client=c, **o.common()),
    ),
    "partition": (
        "drop every packet in and out: the peers see silence (iptables DROP, from a sidecar)",
        FaultOptions,
        lambda o, c: network.partition(o.container, client=c, **o.common()),
    ),
    "reset": (
        "answer every incoming TCP segment with a reset (iptables REJECT tcp-reset, from a sidecar)",
        FaultOptions,
        lambda o, c: network.reset(o.container, client=c, **o.common()),
    ),
    "rate": (
        "limit the outgoing rate (tc tbf, from a sidecar)",
        RateOptions,
        lambda o, c: network.rate(o.container, kbit=o.kbit, client=c, **o.common()),
    ),
    "latency": (
        "delay outgoing packets (tc netem, where the kernel has it; else says how to use the proxy)",
        LatencyOptions,
        lambda o, c: network.netem_latency(o.container, ms=o.ms, jitter_ms=o.jitter_ms, client=c, **o.common()),
    ),
    "kill": (
        "SIGKILL the container; start it again when the fault ends",
        FaultOptions,
        lambda o, c: process.kill(o.container, client=c, **o.common()),
    ),
    "stop": (
        "docker stop (SIGTERM, SIGKILL after --grace); start it again when the fault ends",
        StopOptions,
        lambda o, c: process.stop(o.container, grace=o.grace, client=c, **o.common()),
    ),
    "pause": (
        "freeze every process of the container (docker pause); unpause when the fault ends",
        FaultOptions,
        lambda o, c: process.pause(o.container, client=c, **o.common()),
    ),
    "restart": (
        "docker stop, then docker start after --for seconds (default: at once)",
        StopOptions,
        lambda o, c: process.restart(o.container, grace=o.grace, client=c, **o.common()),
    ),
    "disconnect": (
        "take the container off a network; reconnect it with its aliases when the fault ends",
        DisconnectOptions,
        lambda o, c: process.disconnect(o.container, network=o.network or None, client=c, **o.common()),
    ),
}


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "fault",
        help="apply one fault to a running container (ours or any other), undo it after --for or at Ctrl-C",
        description=__doc__,
    )
    kinds = parser.add_subparsers(dest="fault", required=True, metavar="FAULT")
    for name, (help_text, options, make) in FAULTS.items():
        add_command(kinds, name, help_text, options, _runner(make))
    from socklab.cli.suite import register as register_suite

    register_suite(sub)


def _runner(make: Maker) -> Callable[[FaultOptions], int]:
    return lambda options: run_fault_command(options, make)


def _show(record: FaultRecord, event: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"event": event, **record.as_json()}), flush=True)
    else:
        print(record.applied_line() if event == "applied" else record.undone_line(), flush=True)


def _sigterm_as_interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_fault_command(options: FaultOptions, make: Maker) -> int:
    """Apply, print, hold (``--for`` or until Ctrl-C/SIGTERM), undo, print; FAILED if it did not undo."""
    client = engine()
    fault = make(options, client)
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    cut_short = False
    try:
        with fault as record:
            _show(record, "applied", options.json)
            try:
                fault.wait()
            except KeyboardInterrupt:
                cut_short = bool(options.seconds)  # without --for, Ctrl-C is how it ends
    except network.NetemUnavailable as exc:
        print(f"socklab fault: {exc}", file=sys.stderr)
        print(f"socklab fault: {netem_support(client).describe()}", file=sys.stderr)
        return ExitCode.FAILED
    except FaultError as exc:
        if fault.record is not None and fault.record.undone_at is not None:
            _show(fault.record, "undone", options.json)
        print(f"socklab fault: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    finally:
        signal.signal(signal.SIGTERM, previous)
    _show(record, "undone", options.json)
    return ExitCode.INTERRUPTED if cut_short else ExitCode.OK


__all__ = ["FAULTS", "FaultOptions", "register", "run_fault_command"]
