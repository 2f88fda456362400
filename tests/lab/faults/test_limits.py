"""Bad input and limits, against every server version (marked ``faults``: ``pytest -m faults``).

The host connects straight to the server's address on the lab network. Each test ends by asking the
server a normal question: whatever came before, it must still answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from socklab.lab.lab import Lab
from socklab.lab.topology import LOCKED_DOWN

pytestmark = [pytest.mark.lab, pytest.mark.faults]

DELAY = 1.0


@pytest.fixture
def lab(server_image: str, client_image: str) -> Iterator[Lab]:
    with Lab(server_image=server_image, client_image=client_image, delay=DELAY, purpose="test") as running:
        yield running


def ask(lab: Lab, byte: bytes = b"A", timeout: float = DELAY + 10) -> bytes:
    with socket.create_connection((lab.server_address(), lab.port), timeout=timeout) as conn:
        conn.sendall(byte)
        return conn.recv(1)


def test_connect_and_close_delays_no_one(lab):
    for _ in range(50):
        socket.create_connection((lab.server_address(), lab.port), timeout=5).close()
    assert ask(lab) == b"B"


def test_half_close_after_the_byte_still_gets_the_answer(lab):
    with socket.create_connection((lab.server_address(), lab.port), timeout=DELAY + 10) as conn:
        conn.sendall(b"A")
        conn.shutdown(socket.SHUT_WR)
        assert conn.recv(1) == b"B"


def test_ten_megabytes_of_garbage_get_the_first_byte_answered_then_a_close(lab):
    with socket.create_connection((lab.server_address(), lab.port), timeout=DELAY + 10) as conn:
        garbage = b"A" + os.urandom(10 * 1024 * 1024)

        def flood() -> None:
            with contextlib.suppress(OSError):  # the server closes long before all of it is read
                conn.sendall(garbage)

        sender = threading.Thread(target=flood, daemon=True)
        sender.start()
        assert conn.recv(1) == b"B"
        with contextlib.suppress(ConnectionResetError):  # unread garbage makes the close a reset
            assert conn.recv(1) == b""
    assert ask(lab) == b"B"


def test_a_client_that_resets_during_the_delay_leaves_no_trace(lab):
    conn = socket.create_connection((lab.server_address(), lab.port), timeout=5)
    conn.sendall(b"A")
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # an RST while the server waits out its delay
    assert ask(lab) == b"B"
    assert "Traceback" not in lab.server_logs()


def test_a_thousand_idle_connections_do_not_slow_a_normal_client(lab):
    idle = [socket.create_connection((lab.server_address(), lab.port), timeout=30) for _ in range(1000)]
    try:
        started = time.monotonic()
        assert ask(lab) == b"B"
        waited = time.monotonic() - started
        assert waited <= DELAY + 1, f"a normal client waited {waited:.2f} s behind 1,000 idle connections"
    finally:
        for conn in idle:
            conn.close()


async def _one(address: str, port: int, deadline: float) -> str:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), deadline)
        writer.write(b"A")
        answer = await asyncio.wait_for(reader.read(1), deadline)
        writer.close()
        return "answered" if answer == b"B" else "closed" if answer == b"" else f"wrong {answer!r}"
    except TimeoutError:
        return "no answer within the deadline"
    except OSError as exc:
        return type(exc).__name__


def burst(lab: Lab, count: int, deadline: float) -> dict[str, int]:
    async def all_at_once() -> list[str]:
        return await asyncio.gather(*(_one(lab.server_address(), lab.port, deadline) for _ in range(count)))

    outcomes: dict[str, int] = {}
    for outcome in asyncio.run(all_at_once()):
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def test_two_thousand_connects_at_once_each_end_clearly_and_the_server_lives(lab):
    deadline = DELAY + 30
    started = time.monotonic()
    outcomes = burst(lab, 2000, deadline=deadline)
    took = time.monotonic() - started
    named = {"answered", "closed", "no answer within the deadline", "ConnectionResetError", "ConnectionRefusedError"}
    assert set(outcomes) <= named, outcomes
    assert outcomes.get("answered", 0) > 0, outcomes
    assert took <= 2 * deadline + 10, f"some connection hung past its deadline: {took:.1f} s, {outcomes}"
    assert ask(lab) == b"B", f"the server does not answer after the burst: {outcomes}"


def test_out_of_descriptors_every_client_is_answered_once_they_free_up(server_image, client_image):
    """RLIMIT_NOFILE 40, 80 clients at once, the lab's backlog of 5: every client is answered, in bounded
    time (what the server cannot accept yet waits in the kernel's queue, not in dropped SYNs)."""
    tight = dataclasses.replace(LOCKED_DOWN, nofile=40)
    with Lab(server_image=server_image, client_image=client_image, delay=DELAY, hardening=tight) as lab:
        deadline = DELAY + 20  # 80 clients, ~30 at a time: a few rounds of the delay, then the kernel's retries
        outcomes = burst(lab, 80, deadline=deadline)
        assert outcomes == {"answered": 80}, outcomes
        assert ask(lab) == b"B"
        log = lab.server_logs()
        assert "Traceback" not in log
        assert len([line for line in log.splitlines() if "accept failed" in line]) <= 10, log[-3000:]


def _is_python_fork(lab: Lab, image: str) -> bool:
    labels = lab.docker.images.get(image).labels or {}
    return labels.get("io.socklab.model") == "fork" and labels.get("io.socklab.impl") == "python"


def test_fork_under_a_process_limit_closes_cleanly_says_so_once_and_recovers(server_image, client_image):
    tight = dataclasses.replace(LOCKED_DOWN, pids_limit=12)
    with Lab(server_image=server_image, client_image=client_image, delay=DELAY, hardening=tight) as lab:
        if not _is_python_fork(lab, server_image):
            pytest.skip("the fork-failure fallback is the Python fork model's")
        outcomes = burst(lab, 30, deadline=DELAY + 15)
        assert set(outcomes) <= {"answered", "closed"}, outcomes
        assert outcomes.get("closed", 0) > 0, f"the limit never bit: {outcomes}"
        assert ask(lab) == b"B"
        log = lab.server_logs()
        assert log.count("cannot fork") == 1, log[-2000:]
        assert "fork works again" in log, log[-2000:]
        assert lab.server is not None and lab.server.status() == "running"


def test_no_defunct_process_after_five_hundred_connections(server_image, client_image):
    with Lab(server_image=server_image, client_image=client_image, delay=0, purpose="test") as lab:
        for _ in range(500):
            assert ask(lab, timeout=10) == b"B"
        assert lab.server is not None
        deadline = time.monotonic() + 5  # a child is reaped one accept-loop turn after it exits
        while True:
            rows = lab.server.sdk.top(ps_args="-o pid,stat,comm")["Processes"] or []
            zombies = [row for row in rows if "Z" in row[1]]
            if not zombies or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert zombies == [], f"<defunct> after 500 connections: {zombies}"
