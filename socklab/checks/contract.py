"""The contract every server version keeps, as checks that name the rule they find broken.

Each check takes a running ``Lab`` and raises ``ContractViolation`` with a plain sentence ("answered 0x41
to 0x41, expected 0x42") and the server's log; the test suite, ``socklab matrix``, ``socklab check`` and
the broken-server fixtures all use these same checks. Every wait in them is bounded.

The library's entry points: the ``check_*`` functions (one rule each, on a ``Lab`` you started), ``RULES``
(each rule with the lab it needs), ``check_rule`` (one rule in a fresh lab of its own) and ``check_image``
(every rule against one image; what ``socklab check IMAGE`` prints). The bad-input and limit rules are
``socklab.checks.bad_input.BAD_INPUT``, the same kind of ``Rule``.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from socklab.analysis.verdict import TOLERANCE, judge
from socklab.errors import engine, require_image
from socklab.events.recorder import Recorder
from socklab.events.schema import Kind
from socklab.lab.lab import Lab
from socklab.lab.readiness import ServerExited
from socklab.lab.topology import LOCKED_DOWN, SERVER, Hardening
from socklab.load.exchange import ask, describe
from socklab.progress import Progress, quiet
from socklab.wire.config import ClientConfig, ServerConfig

# The rules' names, each spelled once: what a violation says, and the names in RULES.
PLUS_ONE = "'A' -> 'B'"
EVERY_BYTE = "every byte plus one"
AFTER_DELAY = "answer after the delay"
EVERY_CLIENT = "every client answered"
CONCURRENT = "served concurrently"
BAD_CLIENTS = "bad clients harm nobody"
KEEPS_SERVING = "keeps serving after bad clients"
LISTENS = "accepts connections on its port"  # the rule before every other: the lab's server must come up

LOG_TAIL = 3000  # characters of the server log attached to a violation
CONNECT_DEADLINE = 20.0  # seconds a client container retries connecting before it gives up


class ContractViolation(AssertionError):
    """A server broke a rule of the contract."""

    def __init__(self, rule: str, detail: str, server_log: str = "") -> None:
        self.rule, self.detail = rule, detail
        message = f"{rule}: {detail}"
        if server_log:
            message += f"\n--- server log (last lines) ---\n{server_log[-LOG_TAIL:]}"
        super().__init__(message)


class NotApplicable(Exception):
    """A rule that does not apply to this server (it says why): neither kept nor broken."""


def client_bounds(lab: Lab, clients: int) -> tuple[dict[str, str], float]:
    """Our client's own limits for a check (its environment) and how long the lab waits for it to exit.

    Long enough for a server that serves ``clients`` one after another (so that a serial server is judged
    "not concurrent", not "timed out"), short enough that a server that never answers gets its verdict.
    """
    reply = lab.delay * clients + 10
    env = ClientConfig(connect_deadline=CONNECT_DEADLINE, reply_timeout=reply).to_env()
    return env, CONNECT_DEADLINE + reply + 20


def check_plus_one(lab: Lab) -> None:
    """A client container sends 'A' and gets 'B'."""
    env, timeout = client_bounds(lab, 1)
    (run,) = lab.run_clients(1, env=env, timeout=timeout)
    if run.exit_code != 0 or run.received != "B":
        result = run.result
        got = result.received if result else None
        error = result.error if result else None
        detail = (
            f"answered 0x{got:02x} to 0x41, expected 0x42"
            if got is not None
            else f"no answer to 0x41: {error or run.stderr.strip() or f'exit {run.exit_code}'}"
        )
        raise ContractViolation(PLUS_ONE, detail, lab.server_logs())


def check_every_byte(lab: Lab) -> None:
    """Every byte value 0-255 comes back plus one modulo 256 (0xFF -> 0x00). Wants a lab with delay 0."""
    address = lab.server_address()
    for value in range(256):
        try:
            answer = ask(address, lab.port, value, timeout=lab.delay + 10)
        except OSError as exc:
            raise ContractViolation(EVERY_BYTE, f"0x{value:02x}: {exc}", lab.server_logs()) from exc
        if not answer.ok:
            raise ContractViolation(
                EVERY_BYTE,
                f"answered {answer.describe()} to 0x{value:02x}, expected {describe(answer.expected)}",
                lab.server_logs(),
            )


def check_delay(lab: Lab) -> None:
    """The answer comes after the configured delay: not before, and not more than TOLERANCE later."""
    answer = ask(lab.server_address(), lab.port, b"A", timeout=lab.delay * 4 + 10)
    seconds = answer.seconds
    if not answer.ok:
        raise ContractViolation(PLUS_ONE, f"answered {answer.describe()} to 0x41, expected 0x42", lab.server_logs())
    if seconds < lab.delay - 0.05:
        raise ContractViolation(
            AFTER_DELAY,
            f"answered after {seconds:.2f} s with delay {lab.delay:g}: too early",
            lab.server_logs(),
        )
    if seconds > lab.delay + TOLERANCE:
        raise ContractViolation(
            AFTER_DELAY,
            f"answered after {seconds:.2f} s with delay {lab.delay:g}: more than delay + {TOLERANCE:g} s",
            lab.server_logs(),
        )


def check_concurrency(lab: Lab, clients: int) -> None:
    """``clients`` client containers at once: all answered 'B', and served at the same time."""
    env, timeout = client_bounds(lab, clients)
    runs = lab.run_clients(clients, env=env, timeout=timeout)
    failed = [run for run in runs if run.exit_code != 0 or run.received != "B"]
    if failed:
        raise ContractViolation(
            EVERY_CLIENT,
            f"{len(failed)} of {clients} clients failed; first: {failed[0].describe()}",
            lab.server_logs(),
        )
    verdict = judge([run.interval for run in runs if run.interval], clients=clients, delay=lab.delay)
    if not verdict.concurrent:
        raise ContractViolation(
            CONCURRENT,
            f"{clients} clients took {verdict.span:.1f} s with delay {lab.delay:g}: not served concurrently "
            f"({'; '.join(verdict.reasons)})",
            lab.server_logs(),
        )


def check_bad_clients_harm_nobody(lab: Lab) -> None:
    """A client that never sends and one that connects and closes delay no one; the server keeps serving."""
    address = lab.server_address()
    silent = socket.create_connection((address, lab.port), timeout=10)  # sends nothing, stays open
    try:
        socket.create_connection((address, lab.port), timeout=10).close()  # connects and closes
        try:
            answer = ask(address, lab.port, b"A", timeout=lab.delay * 4 + 40)
        except OSError as exc:
            raise ContractViolation(
                BAD_CLIENTS, f"a good client beside a silent one failed: {exc}", lab.server_logs()
            ) from exc
    finally:
        silent.close()
    if not answer.ok:
        raise ContractViolation(
            BAD_CLIENTS, f"a good client beside a silent one got {answer.describe()}", lab.server_logs()
        )
    if (seconds := answer.seconds) > lab.delay + TOLERANCE:
        raise ContractViolation(
            BAD_CLIENTS,
            f"a client that never sends delayed a good client to {seconds:.1f} s (delay {lab.delay:g})",
            lab.server_logs(),
        )
    # After them all, the server still serves.
    answer = ask(address, lab.port, b"A", timeout=lab.delay + 10)
    if not answer.ok:
        raise ContractViolation(KEEPS_SERVING, f"then answered {answer.describe()} to 0x41", lab.server_logs())


# --- holding one image to the contract -------------------------------------------------------------------
CONCURRENT_CLIENTS = 5


@dataclass(frozen=True)
class Rule:
    """One rule of the contract and the lab it is checked in (``delay``, the server's environment, and its
    limits: a limit rule runs the server under a tighter ``Hardening`` than the locked-down default)."""

    id: str  # what ``socklab check --rule`` takes
    name: str  # what a violation of it says
    delay: float
    check: Callable[[Lab], None]
    server_env: Mapping[str, str] = field(default_factory=dict)
    hardening: Hardening = LOCKED_DOWN


def concurrency_rule(clients: int, rule_id: str = "concurrency") -> Rule:
    """``clients`` clients at once, all answered and served at the same time."""
    # Reverse lookups off for our servers: Python 3.11.2's getnameinfo holds the GIL (see test_contract).
    no_names = ServerConfig(resolve_names=False).to_env()
    return Rule(rule_id, CONCURRENT, 2, lambda lab: check_concurrency(lab, clients), no_names)


RULES: tuple[Rule, ...] = (
    Rule("plus-one", PLUS_ONE, 0, check_plus_one),
    Rule("every-byte", EVERY_BYTE, 0, check_every_byte),
    Rule("delay", AFTER_DELAY, 1.5, check_delay),
    concurrency_rule(CONCURRENT_CLIENTS),
    Rule("bad-clients", BAD_CLIENTS, 1, check_bad_clients_harm_nobody),
)
KERNEL_KINDS = (Kind.SOCKET, Kind.PACKET, Kind.SYSCALL)  # what --kernel adds to a rule's lab


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    seconds: float
    violation: ContractViolation | None = None
    server_log: str = ""  # the server's log when the rule was broken
    not_applicable: str = ""  # why the rule does not apply to this server (then it was neither kept nor broken)
    kernel_events: Mapping[str, int] = field(default_factory=dict)  # with kernel=True: socket, packet, syscall

    @property
    def passed(self) -> bool:
        """Nothing broken (true also of a rule that does not apply: see ``not_applicable``)."""
        return self.violation is None

    @property
    def verdict(self) -> str:
        return "BROKEN" if self.violation else "n/a" if self.not_applicable else "kept"

    @property
    def broken_rule(self) -> str:
        """The rule the violation names (a check may find an earlier rule broken, e.g. no 'B' at all)."""
        return self.violation.rule if self.violation else ""


def _server_log(lab: Lab) -> str:
    with contextlib.suppress(Exception):  # a server that was never created has no log
        return lab.containers[SERVER].logs()
    return ""


def check_rule(
    server_image: str,
    rule: Rule,
    *,
    client_image: str,
    startup_timeout: float = 30.0,
    purpose: str = "check",
    progress: Progress = quiet,
    kernel: bool = False,
) -> RuleResult:
    """Check one rule in a lab of its own; a server that never accepts breaks ``LISTENS``. Removes the lab.

    ``kernel``: with the kernel observed as ``--kernel`` does (the server traced, every host's sockets and
    packets sampled), recorded by a recorder of the rule's own; ``kernel_events`` counts what came of it.
    """
    recorder = Recorder(kernel=True) if kernel else None
    with recorder or contextlib.nullcontext():
        result = _check_rule(server_image, rule, client_image, startup_timeout, purpose, progress)
    if recorder is None:
        return result
    counts = {str(kind): sum(e.kind is kind for e in recorder.events) for kind in KERNEL_KINDS}
    return replace(result, kernel_events=counts)


def _check_rule(
    server_image: str, rule: Rule, client_image: str, startup_timeout: float, purpose: str, progress: Progress
) -> RuleResult:
    started = time.monotonic()
    lab = Lab(
        server_image=server_image,
        client_image=client_image,
        delay=rule.delay,
        purpose=purpose,
        server_env=rule.server_env,
        hardening=rule.hardening,
        startup_timeout=startup_timeout,
        progress=progress,
    )
    violation: ContractViolation | None = None
    log = not_applicable = ""
    try:
        try:
            lab.start()
        except (ServerExited, TimeoutError) as exc:
            log = _server_log(lab)
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            violation = ContractViolation(LISTENS, f"{server_image} with delay {rule.delay:g}: {first}", log)
        else:
            try:
                rule.check(lab)
            except ContractViolation as exc:
                violation, log = exc, _server_log(lab)
            except NotApplicable as exc:
                not_applicable = str(exc)
    finally:
        lab.close()
    return RuleResult(rule, time.monotonic() - started, violation, log, not_applicable)


def check_image(
    server_image: str,
    *,
    client_image: str,
    rules: Sequence[Rule] = RULES,
    fail_fast: bool = False,
    startup_timeout: float = 30.0,
    progress: Progress = quiet,
    kernel: bool = False,
) -> list[RuleResult]:
    """Hold ``server_image`` to each rule in turn (each in a fresh lab, removed after): one result a rule.

    MissingImage first if either image is not on the engine; ``fail_fast`` stops at the first broken rule;
    ``kernel``: each rule's lab observed as ``--kernel`` does (``check_rule``).
    """
    client = engine()
    try:
        for image in (server_image, client_image):
            require_image(client, image)
    finally:
        client.close()
    results = []
    for rule in rules:
        progress(f"{rule.id}: {rule.name} (delay {rule.delay:g})")
        result = check_rule(
            server_image,
            rule,
            client_image=client_image,
            startup_timeout=startup_timeout,
            progress=progress,
            kernel=kernel,
        )
        results.append(result)
        said = {"BROKEN": f"BROKEN: {result.broken_rule}", "n/a": f"not applicable: {result.not_applicable}"}
        progress(f"{rule.id}: {said.get(result.verdict, result.verdict)} ({result.seconds:.1f} s)")
        if fail_fast and not result.passed:
            break
    return results
