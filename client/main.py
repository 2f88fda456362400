"""``python -m client``: a thin command line over ``exchange``.

SIGTERM (``docker stop``) lets the exchange in flight finish and starts no other: a client making many
exchanges stops between two of them, with every result printed, as a server drains (PID 1 in a container
would otherwise ignore SIGTERM and be killed after the grace, its last exchange cut).
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Sequence

import wire
from wire import READY_LINE, ClientResult
from wire.knobs import ConfigError, load

from . import __version__
from .config import ClientConfig
from .errors import ExitCode
from .exchange import exchange
from .protocol import show


def classic_line(result: ClientResult) -> str:
    """The original's line, plus where it happened."""
    own = result.address.rsplit(":", 1)[0] if result.address else "-"
    where = f"host {result.host} {own}, server {result.server}"
    if result.answer_seconds is not None:
        where += f", {result.connect_seconds or 0:.3f} s to connect, {result.answer_seconds:.3f} s to answer"
    return f"char from server = {show(result.received)}  [{where}]" if result.received is not None else ""


GO_SIGNAL = signal.Signals[wire.GO_SIGNAL]  # wire holds its name, for hosts that send it with `docker kill`


def wait_for_go() -> bool:
    """A start barrier: many client containers start over seconds, then all connect at one signal.

    The signal is blocked before 'ready' is printed, so one sent after that line cannot be lost (or,
    with its default action, end the process). False: SIGTERM came first (stopped before it began).
    """
    waited = {GO_SIGNAL, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    print(READY_LINE, file=sys.stderr, flush=True)
    got = signal.sigwait(waited)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, waited)
    return got == GO_SIGNAL


class Stopping:
    """Set by SIGTERM; read between exchanges. Its handler only sets a flag: the socket calls of the exchange
    in flight resume after it (PEP 475), so the exchange finishes."""

    def __init__(self) -> None:
        self.asked = False
        signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, _signum: int, _frame: object) -> None:
        self.asked = True


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = load(
            ClientConfig,
            argv,
            prog="python -m client",
            description=(
                f"socklab client {__version__}: connect to the server (tcp, unix) or send it a datagram "
                "(udp) with one character, print the character it answers. Exit codes: 0 right answer, "
                "2 bad configuration, 3 could not connect, 4 timed out waiting, 5 closed without an answer, "
                "6 wrong answer."
            ),
        )
    except ConfigError as exc:
        print(f"socklab client: bad configuration: {exc}", file=sys.stderr, flush=True)
        return ExitCode.CONFIG
    stopping = Stopping()
    if config.wait_for_go and not wait_for_go():
        return ExitCode.OK  # stopped before the go: nothing was asked
    exit_code = ExitCode.OK
    for number in range(config.repeat):
        if number and config.interval:
            time.sleep(config.interval)
        if stopping.asked:
            break
        result = exchange(config)
        if config.json:
            print(result.to_json(), flush=True)
        elif line := classic_line(result):
            print(line, flush=True)
        if result.error:
            print(f"socklab client: {result.error}", file=sys.stderr, flush=True)
            exit_code = ExitCode(result.exit_code)  # the last failure decides the exit code
    return exit_code
