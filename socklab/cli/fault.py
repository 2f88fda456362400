"""``socklab fault KIND --container NAME [--for SECONDS]``: one fault on any running container, ours or not;
``socklab faults``: the reliability suite (``socklab.cli.suite``).

One line when the fault is applied, one when it is undone (``--json``: each record as a JSON line).
Without ``--for`` the fault lasts until Ctrl-C (or SIGTERM); with it, until then or Ctrl-C.
"""

from __future__ import annotations

import dataclasses
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
from socklab.faults import network
from socklab.faults.catalog import FAULTS, FaultKind, Site
from socklab.faults.netem import netem_support
from socklab.faults.params import FaultParams
from socklab.faults.record import Fault, FaultError, FaultRecord
from socklab.wire.knobs import env_name, option


@dataclass(frozen=True)
class FaultOptions(RecordOptions):
    """What every ``socklab fault KIND`` takes; each kind adds its catalog parameters (``options_for``)."""

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


def options_for(kind: FaultKind) -> type[FaultOptions]:
    """``socklab fault KIND``'s options: the common ones and the kind's parameters (its catalog dataclass)."""
    name = "".join(part.title() for part in kind.name.split("-")) + "Options"
    return dataclasses.make_dataclass(name, [], bases=(kind.params, FaultOptions), frozen=True)


def params_of(kind: FaultKind, options: FaultOptions) -> FaultParams:
    return kind.params(**{f.name: getattr(options, f.name) for f in dataclasses.fields(kind.params)})


def make_fault(kind: FaultKind, options: FaultOptions, client: docker.DockerClient) -> Fault:
    site = Site(options.container, client)
    return kind.build(params_of(kind, options), site, options.seconds or None)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "fault",
        help="apply one fault to a running container (ours or any other), undo it after --for or at Ctrl-C",
        description=__doc__,
    )
    kinds = parser.add_subparsers(dest="fault", required=True, metavar="FAULT")
    for name, kind in FAULTS.items():
        add_command(kinds, name, kind.summary, options_for(kind), _runner(kind))
    from socklab.cli.suite import register as register_suite

    register_suite(sub)


def _runner(kind: FaultKind) -> Callable[[FaultOptions], int]:
    return lambda options: run_fault_command(options, kind)


def _show(record: FaultRecord, event: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"event": event, **record.as_json()}), flush=True)
    else:
        print(record.applied_line() if event == "applied" else record.undone_line(), flush=True)


def _sigterm_as_interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_fault_command(options: FaultOptions, kind: FaultKind) -> int:
    """Apply, print, hold (``--for`` or until Ctrl-C/SIGTERM), undo, print; FAILED if it did not undo."""
    client = engine()
    try:
        fault = make_fault(kind, options, client)
    except FaultError as exc:  # a proxy toxic asked of a container: it needs a lab
        print(f"socklab fault: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    cut_short = False
    try:
        with fault as record:
            try:  # the line first, inside: a Ctrl-C the moment it is out still ends the fault the same way
                _show(record, "applied", options.json)
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


__all__ = ["FaultOptions", "make_fault", "options_for", "register", "run_fault_command"]
