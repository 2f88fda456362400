"""The byte-plus-one protocol, client side, as pure functions over bytes: no sockets here.

The client sends one byte and expects one byte back: the same value plus one, modulo 256.
"""

from __future__ import annotations

from wire.config import parse_char as wire_parse_char


class ProtocolError(Exception):
    """Base of the protocol's errors."""


class LocalProtocolError(ProtocolError, ValueError):
    """We misused the protocol: asked to send something that is not one byte."""


class RemoteProtocolError(ProtocolError):
    """The server misbehaved: it answered something other than the byte plus one."""

    def __init__(self, sent: int, received: int) -> None:
        self.sent, self.received = sent, received
        super().__init__(f"sent 0x{sent:02x}, got 0x{received:02x}, expected 0x{expected_answer(sent):02x}")


def parse_char(text: str) -> int:
    """The byte a user means: 'A', or '0x41' for any byte value (0xff too). The rule is wire's."""
    try:
        return wire_parse_char(text)
    except ValueError as exc:
        raise LocalProtocolError(str(exc)) from None


def request(byte: int) -> bytes:
    if not 0 <= byte <= 255:
        raise LocalProtocolError(f"{byte} is not a byte value")
    return bytes([byte])


def expected_answer(byte: int) -> int:
    return (byte + 1) % 256


def check_answer(sent: int, received: int) -> int:
    """The received byte if it is the right answer; RemoteProtocolError if not."""
    if received != expected_answer(sent):
        raise RemoteProtocolError(sent, received)
    return received


def show(byte: int) -> str:
    """The byte as the original printed it with %c, escaped when it would not print."""
    char = chr(byte)
    return char if char.isprintable() and byte < 0x7F else f"\\x{byte:02x}"
