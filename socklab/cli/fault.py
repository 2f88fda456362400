"""``socklab fault KIND --container NAME [--for SECONDS]``: one fault on any running container, ours or not.

One line when the fault is applied, one when it is undone (``--json``: the record as JSON). Without
``--for`` it lasts until Ctrl-C (or SIGTERM). ``socklab faults``: the reliability suite.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import docker

from socklab.faults import network, process
from socklab.faults.netem import netem_support
from socklab.faults.record import Fault, FaultError, FaultRecord

FAILED, INTERRUPTED = 1, 130  # socklab.cli.main.ExitCode (imported late: main imports this module)


def _network(kind: str) -> Callable[[argparse.Namespace, docker.DockerClient], Fault]:
    def make(args: argparse.Namespace, client: docker.DockerClient) -> Fault:
        params: dict[str, Any] = {
            "loss": {"percent": getattr(args, "percent", None)},
            "rate": {"kbit": getattr(args, "kbit", None)},
            "latency": {"ms": getattr(args, "ms", None), "jitter_ms": getattr(args, "jitter_ms", 0.0)},
        }.get(kind, {})
        factory = {
            "loss": network.loss,
            "partition": network.partition,
            "reset": network.reset,
            "rate": network.rate,
            "latency": network.netem_latency,
        }[kind]
        return factory(args.container, seconds=args.seconds, client=client, **params)

    return make


def _process(kind: str) -> Callable[[argparse.Namespace, docker.DockerClient], Fault]:
    def make(args: argparse.Namespace, client: docker.DockerClient) -> Fault:
        extra = {"network": args.network} if kind == "disconnect" else {}
        if kind in ("stop", "restart"):
            extra["grace"] = args.grace
        factory = getattr(process, kind)
        return factory(args.container, seconds=args.seconds, client=client, **extra)

    return make


# name -> (help, how to make it); the one list of CLI faults
FAULTS: dict[str, tuple[str, Callable[[str], Callable[[argparse.Namespace, docker.DockerClient], Fault]]]] = {
    "loss": ("drop a share of the packets in and out (iptables statistic)", _network),
    "partition": ("drop every packet in and out: silence (iptables DROP)", _network),
    "reset": ("answer every incoming TCP segment with a reset (iptables REJECT tcp-reset)", _network),
    "rate": ("limit the outgoing rate (tc tbf)", _network),
    "latency": ("delay outgoing packets (tc netem, where the kernel has it)", _network),
    "kill": ("SIGKILL the container, start it again when the fault ends", _process),
    "stop": ("docker stop (SIGTERM, then SIGKILL after --grace), start it again when the fault ends", _process),
    "pause": ("freeze every process of the container (docker pause), unpause when the fault ends", _process),
    "restart": ("docker stop, then start after --for seconds (default: at once)", _process),
    "disconnect": ("take the container off a network, reconnect it with its aliases when the fault ends", _process),
}


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} must be a positive number")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fault", help="apply one fault to a running container (ours or any other)")
    kinds = p.add_subparsers(dest="fault", required=True, metavar="FAULT")
    for name, (help_text, maker) in FAULTS.items():
        k = kinds.add_parser(name, help=help_text, description=help_text)
        k.add_argument("--container", required=True, help="the target container's name or id")
        k.add_argument("--for", dest="seconds", type=_positive, help="end the fault after this long (default: Ctrl-C)")
        k.add_argument("--json", action="store_true", help="print each record as a JSON line")
        if name == "loss":
            k.add_argument("--percent", type=float, required=True, help="share of packets dropped, 0-100")
        if name == "rate":
            k.add_argument("--kbit", type=int, required=True, help="outgoing rate in kbit/s")
        if name == "latency":
            k.add_argument("--ms", type=_positive, required=True, help="added delay in milliseconds")
            k.add_argument("--jitter-ms", type=float, default=0.0, help="± this much at random")
        if name in ("stop", "restart"):
            k.add_argument(
                "--grace", type=int, default=process.DEFAULT_GRACE, help="seconds between SIGTERM and SIGKILL"
            )
        if name == "disconnect":
            k.add_argument("--network", help="which network (needed when it is on several)")
        k.set_defaults(func=cmd_fault, make=maker(name))
    from socklab.cli.suite import register as register_suite

    register_suite(sub)


def _show(record: FaultRecord, event: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"event": event, **record.as_json()}), flush=True)
    else:
        print(record.applied_line() if event == "applied" else record.undone_line(), flush=True)


def _sigterm_as_interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def cmd_fault(args: argparse.Namespace) -> int:
    client = docker.from_env()
    fault = args.make(args, client)
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    interrupted = False
    try:
        try:
            with fault as record:
                _show(record, "applied", args.json)
                try:
                    fault.wait()
                except KeyboardInterrupt:
                    interrupted = args.seconds is not None  # without --for, Ctrl-C is the way it ends
        except network.NetemUnavailable as exc:
            print(f"socklab: {exc}", file=sys.stderr)
            print(f"socklab: {netem_support(client).describe()}", file=sys.stderr)
            return FAILED
        except FaultError as exc:
            if fault.record is not None and fault.record.undone_at is not None:
                _show(fault.record, "undone", args.json)
            print(f"socklab: {exc}", file=sys.stderr)
            return FAILED
        _show(record, "undone", args.json)
    finally:
        signal.signal(signal.SIGTERM, previous)
        client.close()
    return INTERRUPTED if interrupted else 0
