"""``python -m server``: a thin command line over ``run``."""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from enum import IntEnum

from wire.knobs import ConfigError, load

from . import __version__
from .config import ServerConfig
from .core import BindError
from .log import Log
from .models import server_class
from .tracer import wait_for_tracer


class ExitCode(IntEnum):
    OK = 0  # stopped by SIGTERM/SIGINT after every accepted connection was answered
    ABANDONED = 1  # the grace period ended with connections still in flight
    CONFIG = 2  # a bad flag or SOCKLAB_* value
    BIND = 3  # could not listen: port in use, address not on this host, no permission


def run(*, config: ServerConfig, log: Log | None = None) -> ExitCode:
    """Listen and serve until SIGTERM or SIGINT, then drain; install the signal handlers."""
    log = log or Log(mode=config.log)
    wait_for_tracer(config.wait_for_tracer, log)  # before socket(): a tracer then sees socket, bind, listen
    try:
        server = server_class(config.model, config.transport)(config, log)
    except BindError as exc:
        print(f"socklab server: {exc.strerror}", file=sys.stderr, flush=True)
        return ExitCode.BIND
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _sig, _frame: server.shutdown())
    abandoned = server.serve_forever()
    return ExitCode.ABANDONED if abandoned else ExitCode.OK


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = load(
            ServerConfig,
            argv,
            prog="python -m server",
            description=(
                f"socklab server {__version__}: for each connection (tcp, unix) or datagram (udp) read one "
                "byte, wait DELAY seconds, answer the byte plus one (mod 256) and close. Exit codes: 0 every "
                "accepted request answered, 1 some abandoned at the end of the grace, 2 bad configuration "
                "(also a model that does not serve the transport), 3 cannot listen."
            ),
        )
    except ConfigError as exc:
        print(f"socklab server: bad configuration: {exc}", file=sys.stderr, flush=True)
        return ExitCode.CONFIG
    return run(config=config)
