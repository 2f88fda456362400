"""The plugin's ``socklab_server.ask``: one byte given as bytes or as an int, the answer as bytes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from socklab.testing.server import Server
from support import ServerProcess


@dataclass
class LoopbackLab:
    """What ``Server`` reads of a Lab, for a real server process on 127.0.0.1."""

    port: int
    delay: float = 0.0
    server_image: str = "loopback"

    def server_address(self) -> str:
        return "127.0.0.1"


@pytest.fixture(scope="module")
def server():
    with ServerProcess("--delay", "0") as process:
        yield Server(LoopbackLab(process.port))  # type: ignore[arg-type]


def test_ask_takes_the_byte_as_bytes_or_as_an_int_and_answers_bytes(server):
    assert server.ask(b"A") == b"B"
    assert server.ask(0x41) == b"B"
    assert server.ask(b"\xff") == b"\x00"


def test_ask_sends_one_byte_and_says_so_when_given_more(server):
    with pytest.raises(ValueError, match=r"ask sends one byte, not b'AB'"):
        server.ask(b"AB")
