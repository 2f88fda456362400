"""The byte-plus-one protocol, server side, as pure functions over bytes: no sockets here.

A client sends one byte; the server answers that byte plus one, modulo 256 ('A' -> 'B', 0xFF -> 0x00).
Bytes after the first are ignored, as the original C server read exactly one byte.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base of the protocol's errors."""


class LocalProtocolError(ProtocolError):
    """We misused the protocol (a bug on our side), e.g. asked to answer nothing."""


REQUEST_SIZE = 1  # bytes the server reads per connection


def answer(byte: int) -> int:
    """The answer to one byte value."""
    if not 0 <= byte <= 255:
        raise LocalProtocolError(f"{byte} is not a byte value")
    return (byte + 1) % 256


def reply_for(request: bytes) -> bytes:
    """The bytes to send back for what the client sent (its first byte counts)."""
    if not request:
        raise LocalProtocolError("there is no request byte to answer")
    return bytes([answer(request[0])])
