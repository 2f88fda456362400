"""The one exchange helper, against the real server on loopback (its log lines are the waits)."""

from __future__ import annotations

import asyncio

import pytest

from socklab.load.exchange import Answer, as_bytes, ask, ask_async, describe
from support import ServerProcess


def test_ask_sends_a_byte_and_the_oracle_judges_the_answer() -> None:
    with ServerProcess("--delay", "0") as server:
        answer = ask("127.0.0.1", server.port, 0xFF, timeout=5)
        assert (answer.sent, answer.reply, answer.ok) == (b"\xff", b"\x00", True)
        half = ask("127.0.0.1", server.port, b"A", timeout=5, half_close=True)
        assert half.reply == b"B" and half.seconds >= 0


def test_ask_async_is_the_same_exchange() -> None:
    with ServerProcess("--delay", "0") as server:
        answer = asyncio.run(ask_async("127.0.0.1", server.port, b"y", timeout=5))
        assert answer.ok and answer.reply == b"z"


def test_a_wrong_or_missing_answer_is_said_plainly() -> None:
    assert not Answer(b"A", b"A", 0.1).ok and Answer(b"A", b"A", 0.1).describe() == "0x41"
    assert describe(b"") == "nothing (the connection was closed)"
    with pytest.raises(ValueError, match="nothing to send"):
        as_bytes(b"")
