"""Following an event log as it grows: each complete line, numbered from 1, as soon as it is in the file.

A line is taken only once its newline is written (the recorder flushes one whole line at a time), so a
reader never sees half an event. A file that does not exist yet is waited for (``--view`` may open the
page before the run writes its first line); one that shrinks (rewritten from the start) is read again.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from socklab.events.schema import Event, MalformedEvent

BATCH = 500  # lines per message at most (a saved log of 100,000 lines replays in pieces)
POLL_SECONDS = 0.01  # how often a quiet file is looked at again (a stat): the page's latency floor, 5 ms on average


@dataclass(frozen=True)
class Line:
    """One line of the log: its number (1 = first line; the SSE id) and its event, or why it is not one."""

    number: int
    event: Event | None
    error: str = ""


def read_lines(data: bytes, first: int) -> tuple[list[Line], int]:
    """The complete lines in ``data`` (numbered from ``first``) and how many bytes they took."""
    lines: list[Line] = []
    used = 0
    number = first
    while (end := data.find(b"\n", used)) >= 0:
        text = data[used:end].decode("utf-8", errors="replace")
        used = end + 1
        if not text.strip():
            continue  # blank lines are not events and take no number (as parse_log skips them)
        try:
            lines.append(Line(number, Event.from_line(text)))
        except MalformedEvent as exc:
            lines.append(Line(number, None, str(exc)))
        number += 1
    return lines, used


async def follow(path: Path, *, after: int = 0, stop: threading.Event | None = None) -> AsyncIterator[Line]:
    """Every line of ``path`` numbered above ``after``, then each new one as it is written, until ``stop``."""
    async for batch in follow_batches(path, after=after, stop=stop):
        for line in batch:
            yield line


async def follow_batches(
    path: Path, *, after: int = 0, stop: threading.Event | None = None, most: int = BATCH
) -> AsyncIterator[list[Line]]:
    """As ``follow``, the lines that one look at the file found together (at most ``most`` in a list): a
    burst of events (50 clients' packets at once) goes on as a few messages, not hundreds."""
    offset = 0
    number = 1
    pending = b""
    while stop is None or not stop.is_set():
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = -1
        if 0 <= size < offset:  # the file was rewritten: read it again from the start
            offset, number, pending = 0, 1, b""
        if size > offset:
            with path.open("rb") as file:
                file.seek(offset)
                chunk = file.read(size - offset)
            offset += len(chunk)
            lines, used = read_lines(pending + chunk, number)
            pending = (pending + chunk)[used:]
            if lines:
                number = lines[-1].number + 1
            fresh = [line for line in lines if line.number > after]
            for start in range(0, len(fresh), most):
                yield fresh[start : start + most]
            continue  # more may have come meanwhile
        await asyncio.sleep(POLL_SECONDS)
