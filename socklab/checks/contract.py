"""The contract every server version keeps, as checks that name the rule they find broken.

Each check takes a running ``Lab`` and raises ``ContractViolation`` with a plain sentence ("answered 0x41
to 0x41, expected 0x42") and the server's log; the test suite, ``socklab matrix`` and the broken-server
fixtures all use these same checks.
"""

from __future__ import annotations

import socket
import time

from socklab.analysis.verdict import TOLERANCE, judge
from socklab.lab.lab import Lab
from wire import expected_reply

LOG_TAIL = 3000  # characters of the server log attached to a violation


class ContractViolation(AssertionError):
    """A server broke a rule of the contract."""

    def __init__(self, rule: str, detail: str, server_log: str = "") -> None:
        self.rule, self.detail = rule, detail
        message = f"{rule}: {detail}"
        if server_log:
            message += f"\n--- server log (last lines) ---\n{server_log[-LOG_TAIL:]}"
        super().__init__(message)


def _ask(address: str, port: int, byte: int, timeout: float) -> tuple[bytes, float]:
    """Send one byte from the host to the server container; return the answer and the seconds it took."""
    started = time.monotonic()
    with socket.create_connection((address, port), timeout=timeout) as sock:
        sock.sendall(bytes([byte]))
        return sock.recv(1), time.monotonic() - started


def _describe(answer: bytes) -> str:
    return f"0x{answer[0]:02x}" if answer else "nothing (the connection was closed)"


def check_plus_one(lab: Lab) -> None:
    """A client container sends 'A' and gets 'B'."""
    (run,) = lab.run_clients(1)
    if run.exit_code != 0 or run.received != "B":
        result = run.result
        got = result.received if result else None
        error = result.error if result else None
        detail = (
            f"answered 0x{got:02x} to 0x41, expected 0x42"
            if got is not None
            else f"no answer to 0x41: {error or run.stderr.strip() or f'exit {run.exit_code}'}"
        )
        raise ContractViolation("'A' -> 'B'", detail, lab.server_logs())


def check_every_byte(lab: Lab) -> None:
    """Every byte value 0-255 comes back plus one modulo 256 (0xFF -> 0x00). Wants a lab with delay 0."""
    address = lab.server_address()
    for value in range(256):
        try:
            answer, _ = _ask(address, lab.port, value, timeout=lab.delay + 10)
        except OSError as exc:
            raise ContractViolation("every byte plus one", f"0x{value:02x}: {exc}", lab.server_logs()) from exc
        if answer != bytes([expected_reply(value)]):
            raise ContractViolation(
                "every byte plus one",
                f"answered {_describe(answer)} to 0x{value:02x}, expected 0x{expected_reply(value):02x}",
                lab.server_logs(),
            )


def check_delay(lab: Lab) -> None:
    """The answer comes after the configured delay: not before, and not more than TOLERANCE later."""
    answer, seconds = _ask(lab.server_address(), lab.port, 0x41, timeout=lab.delay * 4 + 10)
    if answer != b"B":
        raise ContractViolation("'A' -> 'B'", f"answered {_describe(answer)} to 0x41, expected 0x42", lab.server_logs())
    if seconds < lab.delay - 0.05:
        raise ContractViolation(
            "answer after the delay",
            f"answered after {seconds:.2f} s with delay {lab.delay:g}: too early",
            lab.server_logs(),
        )
    if seconds > lab.delay + TOLERANCE:
        raise ContractViolation(
            "answer after the delay",
            f"answered after {seconds:.2f} s with delay {lab.delay:g}: more than delay + {TOLERANCE:g} s",
            lab.server_logs(),
        )


def check_concurrency(lab: Lab, clients: int) -> None:
    """``clients`` client containers at once: all answered 'B', and served at the same time."""
    runs = lab.run_clients(clients)
    failed = [run for run in runs if run.exit_code != 0 or run.received != "B"]
    if failed:
        raise ContractViolation(
            "every client answered",
            f"{len(failed)} of {clients} clients failed; first: {failed[0].describe()}",
            lab.server_logs(),
        )
    verdict = judge([run.interval for run in runs if run.interval], clients=clients, delay=lab.delay)
    if not verdict.concurrent:
        raise ContractViolation(
            "served concurrently",
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
            answer, seconds = _ask(address, lab.port, 0x41, timeout=lab.delay * 4 + 40)
        except OSError as exc:
            raise ContractViolation(
                "bad clients harm nobody", f"a good client beside a silent one failed: {exc}", lab.server_logs()
            ) from exc
    finally:
        silent.close()
    if answer != b"B":
        raise ContractViolation(
            "bad clients harm nobody", f"a good client beside a silent one got {_describe(answer)}", lab.server_logs()
        )
    if seconds > lab.delay + TOLERANCE:
        raise ContractViolation(
            "bad clients harm nobody",
            f"a client that never sends delayed a good client to {seconds:.1f} s (delay {lab.delay:g})",
            lab.server_logs(),
        )
    # After them all, the server still serves.
    answer, _ = _ask(address, lab.port, 0x41, timeout=lab.delay + 10)
    if answer != b"B":
        raise ContractViolation(
            "keeps serving after bad clients", f"then answered {_describe(answer)} to 0x41", lab.server_logs()
        )
