"""Bad input and limits: what a careless or hostile client does, and what a server must survive.

Each check takes a running ``Lab`` (with the delay and limits its ``Rule`` in ``BAD_INPUT`` names) and
raises ``ContractViolation`` with what a user would notice ("a normal client waited 3.2 s behind 1,000 idle
connections") and the server's log. The host connects straight to the server's address on the lab network,
and every check ends by asking a normal question: whatever came before, the server must still answer.
Every wait is bounded. A rule that only one model promises raises ``NotApplicable`` on other servers.

``pytest -m faults tests/lab/faults/test_limits.py``, the plugin's ``--socklab-bad-input`` and ``socklab
check IMAGE --bad-input`` all run these same rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import resource
import socket
import struct
import threading
import time
from collections import Counter

from socklab.checks.contract import ContractViolation, NotApplicable, Rule
from socklab.lab.lab import Lab
from socklab.lab.topology import LOCKED_DOWN
from socklab.load.exchange import ask, ask_async

DELAY = 1.0  # the delay of most rows: long enough to hold connections open, short enough to be quick
GARBAGE = 10 * 1024 * 1024  # bytes a flooding client sends after its byte
IDLE = 1000  # connections that never send, beside a normal client
BURST = 2000  # connects at once, far past the backlog of 5
NOFILE = 40  # RLIMIT_NOFILE of the server in the out-of-descriptors rule ...
NOFILE_CLIENTS = 80  # ... and the clients that arrive at once there
PIDS_LIMIT = 12  # the server's pids limit in the fork rule ...
FORK_CLIENTS = 30  # ... and the clients that arrive at once there
SERIAL = 500  # one connection after another before looking for <defunct> processes
REAP_WAIT = 5.0  # seconds for the last children to be reaped (one accept-loop turn after they exit)

# How a burst's connection may end without the server misbehaving (a timeout is TCP's SYN retransmission
# outlasting the deadline against a full backlog, not a hang: the deadline bounds it).
ANSWERED, CLOSED, NO_ANSWER = "answered", "closed", "no answer within the deadline"
CLEAR_ENDS = frozenset({ANSWERED, CLOSED, NO_ANSWER, "ConnectionResetError", "ConnectionRefusedError"})


# --- the host's side: normal questions, bursts -----------------------------------------------------------
def _connect(lab: Lab, timeout: float) -> socket.socket:
    return socket.create_connection((lab.server_address(), lab.port), timeout=timeout)


def _open(lab: Lab, rule: str, timeout: float) -> socket.socket:
    """A connection for a check's own client; failing to connect breaks ``rule``."""
    try:
        return _connect(lab, timeout)
    except OSError as exc:
        raise ContractViolation(rule, f"could not connect: {exc!r}", lab.server_logs()) from exc


def _expect_b(lab: Lab, rule: str, doing: str, *, half_close: bool = False, timeout: float | None = None) -> None:
    """Send 'A' (then, with ``half_close``, shut the sending side); 'B' must come back. ``doing`` names the
    client's part in the violation."""
    wait = lab.delay + 10 if timeout is None else timeout
    try:
        answer = ask(lab.server_address(), lab.port, b"A", timeout=wait, half_close=half_close)
    except OSError as exc:
        raise ContractViolation(rule, f"{doing}: {exc!r}", lab.server_logs()) from exc
    if not answer.ok:
        raise ContractViolation(rule, f"{doing} got {answer.describe()}, expected 'B'", lab.server_logs())


def _still_answers(lab: Lab, rule: str, after: str, timeout: float | None = None) -> None:
    """A normal client gets 'B' for 'A'; otherwise the server was harmed by what came ``after``."""
    _expect_b(lab, rule, f"after {after}, a normal client", timeout=timeout)


def _no_traceback(lab: Lab, rule: str, after: str) -> None:
    log = lab.server_logs()
    if "Traceback" in log:
        raise ContractViolation(rule, f"the server printed a traceback after {after}", log)


def _descriptors_for(count: int) -> None:
    """Raise this process's soft RLIMIT_NOFILE so that ``count`` sockets fit (a host limit, not the server's)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = count + 256  # the interpreter's, pytest's and the engine client's own descriptors
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))


async def _one(address: str, port: int, deadline: float) -> str:
    """One exchange, connect and answer each bounded by ``deadline``; how it ended."""
    try:
        answer = await ask_async(address, port, b"A", timeout=deadline)
    except TimeoutError:  # before OSError: TimeoutError is one
        return NO_ANSWER
    except OSError as exc:
        return type(exc).__name__
    return ANSWERED if answer.ok else CLOSED if answer.reply == b"" else f"wrong answer {answer.reply!r}"


def burst(lab: Lab, count: int, deadline: float) -> Counter[str]:
    """``count`` connections started in one loop turn (their SYNs leave back to back); how they ended."""
    _descriptors_for(count)
    address = lab.server_address()

    async def all_at_once() -> list[str]:
        return await asyncio.gather(*(_one(address, lab.port, deadline) for _ in range(count)))

    return Counter(asyncio.run(all_at_once()))


def _outcomes(outcomes: Counter[str]) -> str:
    return ", ".join(f"{n} {what}" for what, n in outcomes.most_common())


# --- the checks (each rule's name is what its violations say) --------------------------------------------
CONNECT_AND_CLOSE = "connect and close delays no one"
HALF_CLOSE = "a half-closed client is answered"
GARBAGE_RULE = "garbage after the byte: answered, then closed"
RESET = "a reset during the delay leaves no trace"
IDLE_RULE = f"{IDLE:,} idle connections slow no one"
ACCEPT_WITHIN = 15.0  # seconds a server may take to accept 1,000 connections (a second or two here)
BURST_RULE = f"{BURST:,} connects at once end clearly"
OUT_OF_DESCRIPTORS = "out of descriptors, every client is answered"
FORK_LIMIT = "fork under a pids limit closes cleanly and recovers"
NO_DEFUNCT = f"no defunct process after {SERIAL} connections"


def check_connect_and_close(lab: Lab, times: int = 50) -> None:
    """Clients that connect and close at once, ``times`` over, delay no one."""
    rule = CONNECT_AND_CLOSE
    for k in range(times):
        try:
            _connect(lab, 5).close()
        except OSError as exc:
            detail = f"connect {k + 1} of {times} (each closed at once) failed: {exc!r}"
            raise ContractViolation(rule, detail, lab.server_logs()) from exc
    _still_answers(lab, rule, f"{times} clients that connected and closed")


def check_half_close(lab: Lab) -> None:
    """A client that sends its byte and shuts down its sending side still gets the answer."""
    _expect_b(lab, HALF_CLOSE, "'A' then a half close", half_close=True)


def check_garbage(lab: Lab, size: int = GARBAGE) -> None:
    """'A' followed by ``size`` random bytes: the 'A' is answered, then the connection closed (not read to
    the end, not held open), and the server serves on."""
    rule = GARBAGE_RULE
    mb = f"{size / 2**20:g} MB"
    conn = _open(lab, rule, lab.delay + 10)
    garbage = b"A" + os.urandom(size)

    def flood() -> None:
        with contextlib.suppress(OSError):  # the server closes long before all of it is read
            conn.sendall(garbage)

    sender = threading.Thread(target=flood, name="socklab-garbage", daemon=True)
    sender.start()
    try:
        answer = conn.recv(1)
        if answer != b"B":
            got = f"0x{answer[0]:02x}" if answer else "nothing (the connection was closed)"
            raise ContractViolation(rule, f"'A' and {mb} of garbage got {got}, expected 'B'", lab.server_logs())
        try:
            after = conn.recv(1)
        except ConnectionResetError:  # unread garbage makes the server's close a reset: a close all the same
            after = b""
        except TimeoutError as exc:
            detail = f"after answering 'A' the server held the connection open with {mb} of garbage"
            raise ContractViolation(rule, detail, lab.server_logs()) from exc
        if after:
            raise ContractViolation(rule, f"after 'B' the server sent more: {after!r}", lab.server_logs())
    except OSError as exc:
        raise ContractViolation(rule, f"'A' and {mb} of garbage: {exc!r}", lab.server_logs()) from exc
    finally:
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)  # wakes the sender if it is still blocked in send()
        conn.close()
        sender.join(timeout=10)
    _still_answers(lab, rule, f"{mb} of garbage")


def check_reset_during_delay(lab: Lab) -> None:
    """A client that sends its byte and resets (RST) while the server waits out its delay leaves no trace."""
    rule = RESET
    with _open(lab, rule, 5) as conn:
        conn.sendall(b"A")
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close() sends an RST
    _still_answers(lab, rule, "a client that reset during the delay")
    _no_traceback(lab, rule, "a client that reset during the delay")


def _wait_until_accepted(lab: Lab, rule: str, count: int) -> None:
    """Until the server has accepted every connection it was offered, read from its namespace's kernel.

    connect() returns once the client's kernel has the handshake, not once the server accepted it: 1,000
    connects from this host come faster than any server accepts, so its queue (the backlog) is full for a
    moment and a client's SYN in that moment is dropped and sent again a second later. That is the
    kernel's queue at work, which the burst rule covers; this rule is about the idle connections once the
    server holds them, so the normal client comes when the queue has emptied."""
    from socklab.kernel.sockets import read_sockets
    from socklab.lab.sidecar import tools_image

    assert lab.server is not None
    args = (str(lab.port), "--until-accepted", "--timeout", str(ACCEPT_WITHIN))
    (rows,) = read_sockets(lab, lab.server, *args, image=tools_image(lab.docker))
    queued = sum(row["recv_q"] for row in rows if row["state"] == "LISTEN")
    half_done = sum(row["state"] == "SYN_RECV" for row in rows)
    if queued or half_done:
        detail = (
            f"{ACCEPT_WITHIN:g} s after {count:,} idle connections, the server had not accepted them all: "
            f"{queued} still in its accept queue, {half_done} handshakes half done"
        )
        raise ContractViolation(rule, detail, lab.server_logs())


def check_idle_connections(lab: Lab) -> None:
    """1,000 connections that never send: once the server holds them, a normal client beside them is answered
    within delay + 1 s."""
    rule, count = IDLE_RULE, IDLE
    _descriptors_for(count)
    idle: list[socket.socket] = []
    try:
        for _ in range(count):
            try:
                idle.append(_connect(lab, 30))
            except OSError as exc:
                detail = f"after {len(idle)} idle connections the next one failed: {exc!r}"
                raise ContractViolation(rule, detail, lab.server_logs()) from exc
        _wait_until_accepted(lab, rule, count)
        started = time.monotonic()
        _still_answers(lab, rule, f"{count:,} idle connections")
        waited = time.monotonic() - started
        if waited > lab.delay + 1:
            detail = f"a normal client waited {waited:.2f} s behind {count:,} idle connections (delay {lab.delay:g})"
            raise ContractViolation(rule, detail, lab.server_logs())
    finally:
        for conn in idle:
            conn.close()


def check_connect_burst(lab: Lab) -> None:
    """2,000 connects at once, far past the backlog: each is answered or ends with a named error within its
    deadline, some are answered, and the server answers normally after."""
    rule, count = BURST_RULE, BURST
    deadline = lab.delay + 30
    started = time.monotonic()
    outcomes = burst(lab, count, deadline=deadline)
    took = time.monotonic() - started
    unclear = {what: n for what, n in outcomes.items() if what not in CLEAR_ENDS}
    if unclear:
        detail = f"connections ended in ways a client cannot act on: {_outcomes(Counter(unclear))}"
        raise ContractViolation(rule, f"{detail} (all: {_outcomes(outcomes)})", lab.server_logs())
    if not outcomes[ANSWERED]:
        raise ContractViolation(rule, f"not one of {count:,} was answered: {_outcomes(outcomes)}", lab.server_logs())
    if took > 2 * deadline + 10:
        detail = f"some connection hung past its deadline: {took:.1f} s ({_outcomes(outcomes)})"
        raise ContractViolation(rule, detail, lab.server_logs())
    _still_answers(lab, rule, f"{count:,} connects at once ({_outcomes(outcomes)})")


def check_out_of_descriptors(lab: Lab, clients: int = NOFILE_CLIENTS) -> None:
    """Wants a server with a small RLIMIT_NOFILE (the rule's: 40). ``clients`` at once: every one is answered
    in bounded time (what it cannot accept yet waits in the kernel's queue), with few "accept failed" lines
    and no traceback."""
    rule = OUT_OF_DESCRIPTORS
    deadline = lab.delay + 20  # 80 clients, ~30 at a time: a few rounds of the delay, then the kernel's retries
    outcomes = burst(lab, clients, deadline=deadline)
    if outcomes != Counter({ANSWERED: clients}):
        raise ContractViolation(rule, f"{clients} clients at once: {_outcomes(outcomes)}", lab.server_logs())
    after = f"{clients} clients at once"
    _still_answers(lab, rule, after)
    _no_traceback(lab, rule, after)
    log = lab.server_logs()
    failed = [line for line in log.splitlines() if "accept failed" in line]
    if len(failed) > 10:
        raise ContractViolation(rule, f"{len(failed)} 'accept failed' lines for {clients} clients (at most 10)", log)


def _model(lab: Lab) -> tuple[str, str]:
    """The server image's ``io.socklab.model`` and ``io.socklab.impl`` labels ("" when it has none)."""
    assert lab.server_image is not None
    labels = lab.docker.images.get(lab.server_image).labels or {}
    return labels.get("io.socklab.model", ""), labels.get("io.socklab.impl", "")


def check_fork_under_pids_limit(lab: Lab, clients: int = FORK_CLIENTS) -> None:
    """Wants the Python fork model under a small pids limit (the rule's: 12); ``NotApplicable`` on any other
    server. ``clients`` at once: those it cannot fork for are closed cleanly (an EOF, not a reset), the log
    says so once, and says when fork works again; the server lives."""
    model, impl = _model(lab)
    if (model, impl) != ("fork", "python"):
        raise NotApplicable(
            f"the fork-failure fallback is socklab's Python fork model's (this image: model {model or '?'}, "
            f"impl {impl or '?'})"
        )
    rule = FORK_LIMIT
    outcomes = burst(lab, clients, deadline=lab.delay + 15)
    if set(outcomes) - {ANSWERED, CLOSED}:
        raise ContractViolation(rule, f"{clients} clients at once: {_outcomes(outcomes)}", lab.server_logs())
    if not outcomes[CLOSED]:
        raise ContractViolation(rule, f"the pids limit never bit: {_outcomes(outcomes)}", lab.server_logs())
    _still_answers(lab, rule, f"{clients} clients at once under the pids limit")
    log = lab.server_logs()
    if log.count("cannot fork") != 1:
        raise ContractViolation(rule, f"'cannot fork' logged {log.count('cannot fork')} times, not once", log)
    if "fork works again" not in log:
        raise ContractViolation(rule, "the log never said 'fork works again'", log)
    assert lab.server is not None
    if (status := lab.server.status()) != "running":
        raise ContractViolation(rule, f"the server is {status}, not running", log)


def check_no_defunct(lab: Lab) -> None:
    """Wants delay 0. After 500 exchanges one after another, no ``<defunct>`` process remains."""
    rule, connections = NO_DEFUNCT, SERIAL
    for _ in range(connections):
        _still_answers(lab, rule, "the exchanges before", timeout=10)
    assert lab.server is not None
    deadline = time.monotonic() + REAP_WAIT
    while True:  # no event says "reaped": poll the container's process table, bounded
        rows = lab.server.sdk.top(ps_args="-o pid,stat,comm")["Processes"] or []
        zombies = [row for row in rows if "Z" in row[1]]
        if not zombies or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if zombies:
        detail = f"{len(zombies)} <defunct> process(es) {REAP_WAIT:g} s after {connections} connections: {zombies}"
        raise ContractViolation(rule, detail, lab.server_logs())


BAD_INPUT: tuple[Rule, ...] = (
    Rule("connect-and-close", CONNECT_AND_CLOSE, DELAY, check_connect_and_close),
    Rule("half-close", HALF_CLOSE, DELAY, check_half_close),
    Rule("garbage", GARBAGE_RULE, DELAY, check_garbage),
    Rule("reset", RESET, DELAY, check_reset_during_delay),
    Rule("idle", IDLE_RULE, DELAY, check_idle_connections),
    Rule("burst", BURST_RULE, DELAY, check_connect_burst),
    Rule(
        "out-of-descriptors",
        OUT_OF_DESCRIPTORS,
        DELAY,
        check_out_of_descriptors,
        hardening=dataclasses.replace(LOCKED_DOWN, nofile=NOFILE),
    ),
    Rule(
        "fork-pids-limit",
        FORK_LIMIT,
        DELAY,
        check_fork_under_pids_limit,
        hardening=dataclasses.replace(LOCKED_DOWN, pids_limit=PIDS_LIMIT),
    ),
    Rule("no-defunct", NO_DEFUNCT, 0, check_no_defunct),
)
