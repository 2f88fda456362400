"""The byte-plus-one protocol, client side, as pure functions over bytes: no sockets here.

The client sends one byte and expects one byte back: the same value plus one, modulo 256.
"""

from __future__ import annotations


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
    """The byte a user means: 'A', or '0x41' for any byte value (0xff too)."""
    if len(text) == 1:
        if ord(text) > 0xFF:
            raise LocalProtocolError(f"{text!r} is not one byte; give 0xNN for a byte value")
        return ord(text)
    if text.lower().startswith("0x") and len(text) in (3, 4):
        try:
            return int(text, 16)
        except ValueError:
            pass
    raise LocalProtocolError(f"{text!r} is not one character or a byte written 0x00-0xff")


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
