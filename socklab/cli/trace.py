"""``socklab trace``: every packet of one exchange, as a picture, a pcap and a text listing."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socklab.cli.command import add_command
from socklab.cli.exit_codes import ExitCode
from socklab.events.options import RecordOptions
from socklab.experiments.stage import ProbeFailed
from socklab.lab.sidecar import SidecarFailed
from socklab.progress import to_stderr
from socklab.wire.config import DELAY
from socklab.wire.knobs import option

FAULTS = ("loss",)


def parse_fault(text: str) -> float:
    """``loss=30`` -> 30.0 (percent); '' -> 0 (no fault)."""
    if not text:
        return 0.0
    kind, _, value = text.partition("=")
    if kind not in FAULTS or not value:
        raise ValueError(f"fault {text!r}: use loss=PERCENT, e.g. loss=30")
    try:
        percent = float(value)
    except ValueError:
        raise ValueError(f"fault {text!r}: use loss=PERCENT, e.g. loss=30") from None
    if not 0 < percent < 100:
        raise ValueError(f"fault {text!r}: the percentage must be between 0 and 100")
    return percent


@dataclass(frozen=True)
class TraceOptions(RecordOptions):
    output: str = option("trace", "folder for trace.png, trace.pcap and trace.txt", metavar="DIR")
    server_image: str = option("socklab/server:latest", "server image", env="SERVER_IMAGE")
    client_image: str = option("socklab/client:latest", "client image", env="CLIENT_IMAGE")
    delay: float = option(5.0, "seconds the server waits before answering", metavar="SECONDS")
    fault: str = option("", "a fault on the server's interface while the client runs: loss=PERCENT", metavar="FAULT")
    json: bool = option(False, "print the segments as JSON")

    def __post_init__(self) -> None:
        super().__post_init__()
        parse_fault(self.fault)
        DELAY.check("delay", self.delay)  # the server's own rule (wire.config): finite, 0..86400


def run(options: TraceOptions) -> ExitCode:
    from socklab.capture.trace import ExchangeFailed, run_trace  # here: matplotlib is not every command's cost

    try:
        result = run_trace(
            output=Path(options.output),
            server_image=options.server_image,
            client_image=options.client_image,
            delay=options.delay,
            loss=parse_fault(options.fault),
            progress=to_stderr("trace"),
        )
    except (ProbeFailed, SidecarFailed, ExchangeFailed) as exc:
        print(f"socklab trace: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    if options.json:
        segments = [
            {"time": s.time, "src": s.src, "dst": s.dst, "label": s.label, "seq": s.seq, "ack": s.ack}
            for s in result.segments
        ]
        files = {"picture": str(result.picture), "pcap": str(result.pcap), "text": str(result.text)}
        print(json.dumps({"summary": result.summary(), "files": files, "segments": segments}))
    else:
        print(result.text.read_text(), end="")
        print(f"\npicture {result.picture}\npcap    {result.pcap} (Wireshark opens it)\ntext    {result.text}")
    return ExitCode.OK if result.answer == "B" else ExitCode.FAILED


def register(sub: Any) -> None:
    add_command(
        sub,
        "trace",
        "capture one client's exchange on the server's interface and draw every packet",
        TraceOptions,
        run,
        epilog="examples:\n  socklab trace --output trace\n  socklab trace --fault loss=30 --delay 1",
    )
