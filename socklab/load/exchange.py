"""One exchange from this host, written once: connect, send the byte, read the answer (and time it).

Every check, load and probe that asks a server something from the host uses ``ask`` (blocking) or
``ask_async`` (asyncio, for bursts); whether the answer is right is ``wire``'s plus-one oracle's to say.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass

from socklab.wire import expected_reply


def as_bytes(byte: int | bytes) -> bytes:
    """What to send: a byte value, or the bytes themselves (the server answers the first one)."""
    data = bytes([byte]) if isinstance(byte, int) else bytes(byte)
    if not data:
        raise ValueError("nothing to send: give a byte value or at least one byte")
    return data


def describe(reply: bytes) -> str:
    """An answer as a violation or a probe says it."""
    return f"0x{reply[0]:02x}" if reply else "nothing (the connection was closed)"


@dataclass(frozen=True)
class Answer:
    sent: bytes
    reply: bytes  # b"" when the server closed without answering
    seconds: float  # from connect() to the answer (or the close)

    @property
    def expected(self) -> bytes:
        return bytes([expected_reply(self.sent[0])])

    @property
    def ok(self) -> bool:
        return self.reply == self.expected

    def describe(self) -> str:
        return describe(self.reply)


def ask(
    address: str, port: int, byte: int | bytes = b"A", *, timeout: float | None, half_close: bool = False
) -> Answer:
    """Connect, send, (``half_close``: shut the sending side), read one byte; OSError or TimeoutError as
    the socket raises them, each step bounded by ``timeout``."""
    data = as_bytes(byte)
    started = time.monotonic()
    with socket.create_connection((address, port), timeout=timeout) as conn:
        conn.sendall(data)
        if half_close:
            conn.shutdown(socket.SHUT_WR)
        reply = conn.recv(1)
    return Answer(data, reply, time.monotonic() - started)


async def ask_async(address: str, port: int, byte: int | bytes = b"A", *, timeout: float | None) -> Answer:
    """``ask`` in asyncio: the connect and the answer each bounded by ``timeout`` (None: the caller bounds)."""
    data = as_bytes(byte)
    started = time.monotonic()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
    try:
        writer.write(data)
        reply = await asyncio.wait_for(reader.read(1), timeout)
    finally:
        writer.close()
    return Answer(data, reply, time.monotonic() - started)
