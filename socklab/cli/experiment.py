"""``socklab experiment list`` and ``socklab experiment NAME [--json]``: the lesson's claims, tested."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socklab.cli.command import add_command
from socklab.cli.exit_codes import ExitCode
from socklab.events.options import RecordOptions
from socklab.experiments.registry import experiments, run_experiment
from socklab.experiments.stage import ProbeFailed
from socklab.lab.sidecar import SidecarFailed
from socklab.progress import to_stderr
from socklab.wire.knobs import option

LIST = "list"


@dataclass(frozen=True)
class ExperimentOptions(RecordOptions):
    name: str = option("", f"an experiment, or '{LIST}' to name them all", metavar="NAME", positional=True)
    json: bool = option(False, "print the result as JSON (what it did, the claim, the numbers, the verdict)")
    plots: str = option("experiments", "folder for the pictures (timelines, counts)", metavar="DIR")
    server_image: str = option(
        "socklab/server:latest", "server image, for the experiments that run the lab's server", env="SERVER_IMAGE"
    )
    client_image: str = option(
        "socklab/client:latest", "client image, for the experiments that run the lab's client", env="CLIENT_IMAGE"
    )
    udp_server_image: str = option("socklab/server:async", "server image that serves UDP (stream-vs-datagram)")
    c_server_image: str = option("socklab/server:c-fork", "the C original's server image (half-close)")

    def __post_init__(self) -> None:
        super().__post_init__()
        known = experiments()
        if self.name != LIST and self.name not in known:
            raise ValueError(f"no experiment {self.name!r}; choose {LIST} or one of: {', '.join(known)}")


def run(options: ExperimentOptions) -> ExitCode:
    if options.name == LIST:
        rows: list[dict[str, Any]] = [
            {"name": e.name, "claim": e.claim, "summary": e.summary} for e in experiments().values()
        ]
        if options.json:
            print(json.dumps(rows))
        else:
            width = max(len(r["name"]) for r in rows)
            for r in rows:
                print(f"{r['name']:<{width}}  {r['summary']}")
        return ExitCode.OK
    try:
        result = run_experiment(
            options.name,
            plot_dir=Path(options.plots),
            server_image=options.server_image,
            client_image=options.client_image,
            udp_server_image=options.udp_server_image,
            c_server_image=options.c_server_image,
            progress=to_stderr(f"experiment {options.name}"),
        )
    except (ProbeFailed, SidecarFailed) as exc:  # the experiment could not be made: not a verdict
        print(f"socklab experiment {options.name}: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    print(json.dumps(result.as_json()) if options.json else result.text())
    # The verdict is the finding, not a failure: "Linux differs" is a successful run.
    return ExitCode.OK


def register(sub: Any) -> None:
    add_command(
        sub,
        "experiment",
        "the lesson's claims as experiments on real hosts: what it says, what Linux does",
        ExperimentOptions,
        run,
        epilog="examples:\n  socklab experiment list\n  socklab experiment backlog --json",
    )
