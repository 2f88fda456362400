"""``socklab view EVENTS.jsonl``: the live web view of a run's event log, followed as it is written."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from socklab.cli.command import add_command
from socklab.cli.exit_codes import ExitCode
from socklab.view.options import DEFAULT_PORT
from socklab.wire.knobs import env_name, option


@dataclass(frozen=True)
class ViewOptions:
    log: str = option(
        "", "the event log (--events FILE of any command; may not exist yet)", metavar="EVENTS.jsonl", positional=True
    )
    port: int = option(DEFAULT_PORT, "serve on 127.0.0.1:PORT (0: a free port)", env=env_name("view_port"))
    seconds: float = option(-1.0, "stop after this long (negative: at Ctrl-C)", metavar="SECONDS", flag="--for")

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"--port {self.port} must be a port number (0: a free one)")


def view(options: ViewOptions) -> ExitCode:
    from socklab.view.server import ViewError, ViewServer

    try:
        server = ViewServer(options.log, port=options.port).start()
    except ViewError as exc:
        print(f"socklab view: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    print(f"view: {server.url}  (following {options.log}; Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        server.wait(None if options.seconds < 0 else options.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return ExitCode.OK


def register(sub: Any) -> None:
    add_command(
        sub,
        "view",
        f"a live web view of a run's event log on 127.0.0.1 (port {DEFAULT_PORT}); a finished log replays",
        ViewOptions,
        view,
        epilog="example:\n  socklab run --clients 3 --events run.jsonl &\n  socklab view run.jsonl\n"
        "or in one go:\n  socklab run --clients 3 --view",
    )
