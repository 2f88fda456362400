"""Following a log as it grows: whole lines only, numbered as the SSE ids, new lines as they come."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from socklab.events.schema import Event, Kind
from socklab.view.tail import follow, read_lines


def line(k: int) -> str:
    return Event(Kind.HOST, t=float(k), run="r", host=f"client-{k}", data={"role": f"client-{k}"}).to_line()


def test_only_whole_lines_are_taken_and_blank_ones_take_no_number():
    data = f"{line(1)}\n\n{line(2)}\nnot json\n{line(3)[:10]}".encode()
    lines, used = read_lines(data, 1)
    assert [(x.number, x.event.host if x.event else None) for x in lines] == [
        (1, "client-1"),
        (2, "client-2"),
        (3, None),
    ]
    assert "not JSON" in lines[2].error
    assert data[used:] == line(3)[:10].encode()  # the half-written line waits for its newline


def collect(path: Path, count: int, after: int = 0, write: list[str] | None = None) -> list[tuple[int, str]]:
    """The first ``count`` lines ``follow`` yields; ``write``: lines appended (one by one) once it is reading."""
    stop = threading.Event()

    async def main() -> list[tuple[int, str]]:
        seen: list[tuple[int, str]] = []
        async for got in follow(path, after=after, stop=stop):
            seen.append((got.number, got.event.host if got.event else ""))
            if write and len(seen) == 1:
                for text in write:  # appended in pieces, as a flushing writer might be seen
                    with path.open("a") as file:
                        file.write(text[:5])
                    await asyncio.sleep(0.06)
                    with path.open("a") as file:
                        file.write(text[5:] + "\n")
            if len(seen) == count:
                stop.set()
        return seen

    return asyncio.run(asyncio.wait_for(main(), 10))


def test_follow_gives_what_is_there_then_each_line_as_it_is_appended(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text(line(1) + "\n")
    assert collect(path, 3, write=[line(2), line(3)]) == [(1, "client-1"), (2, "client-2"), (3, "client-3")]


def test_follow_after_a_line_skips_what_was_seen(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text("".join(line(k) + "\n" for k in (1, 2, 3, 4)))
    assert collect(path, 2, after=2) == [(3, "client-3"), (4, "client-4")]


def test_follow_waits_for_a_file_that_is_not_there_yet(tmp_path):
    path = tmp_path / "later.jsonl"
    threading.Timer(0.2, lambda: path.write_text(line(7) + "\n")).start()
    assert collect(path, 1) == [(1, "client-7")]
