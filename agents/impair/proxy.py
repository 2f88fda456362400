"""``python -m impair --upstream HOST:PORT [toxics]``: accept on 0.0.0.0:PORT, forward to the upstream.

Each connection gets its own upstream connection and two pumps; a half-close (EOF) is passed on, so a
client that shuts down its sending side still gets its answer. The upstream's name is resolved for each
connection, so a new server under the same name is found at once.

``--control-port`` opens Toxiproxy's kind of API on a second port: one JSON object a line,
``{"toxics": {"latency_ms": 100, "streams": ["downstream"]}}`` (``{}``: none), answered with
``{"ok": true, "toxics": "<what runs now>"}``. The toxics apply from the next chunk of every connection,
the open ones included; a stall (``timeout_ms`` 0) holds the data until its toxic is removed.
``--seed`` makes the jitter and slicer draws repeatable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sys
import time

from .toxics import STREAMS, Toxics, delay_seconds, from_dict, slices

READ_SIZE = 65536


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} impair: {message}", file=sys.stderr, flush=True)


class Live:
    """The toxics now, and an event set (and replaced) each time they change."""

    def __init__(self, toxics: Toxics) -> None:
        self.toxics = toxics
        self.changed = asyncio.Event()

    def set(self, toxics: Toxics) -> None:
        self.toxics = toxics
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    def on(self, stream: str) -> Toxics | None:
        return self.toxics if stream in self.toxics.streams else None


async def stall(live: Live, stream: str, toxics: Toxics) -> bool:
    """A timeout toxic: close after ``timeout_ms`` (True), or with 0 hold until the toxic is gone (False)."""
    if toxics.timeout_ms:
        await asyncio.sleep(toxics.timeout_ms / 1000)
        return True
    while (now := live.on(stream)) is not None and now.timeout_ms is not None:
        await live.changed.wait()
    return False


async def pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, live: Live, stream: str, rng: random.Random
) -> None:
    """Copy one direction until EOF, impairing with what ``live`` says for ``stream``; pass the EOF on."""
    try:
        while data := await reader.read(READ_SIZE):
            toxics = live.on(stream)
            if toxics is not None and toxics.timeout_ms is not None:
                if await stall(live, stream, toxics):
                    break
                toxics = live.on(stream)
            if toxics is None:
                writer.write(data)
                await writer.drain()
                continue
            await asyncio.sleep(delay_seconds(toxics, rng))
            for piece in slices(data, toxics, rng):
                writer.write(piece)
                await writer.drain()
                if toxics.slice_delay_us:
                    await asyncio.sleep(toxics.slice_delay_us / 1e6)
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.transport.abort()


GRACE = 10.0  # on SIGTERM: stop accepting, give the connections in flight this long to finish


async def control(live: Live, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One control connection: each line sets the toxics and is answered with what runs now."""
    try:
        while line := await reader.readline():
            try:
                message = json.loads(line)
                if not isinstance(message, dict) or not isinstance(message.get("toxics"), dict):
                    raise ValueError('a control message is {"toxics": {...}}')
                live.set(from_dict(message["toxics"]))
                answer = {"ok": True, "toxics": live.toxics.describe()}
                log(f"toxics now: {live.toxics.describe()}")
            except ValueError as exc:
                answer = {"ok": False, "error": str(exc)}
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
    finally:
        writer.close()


async def serve(
    port: int, upstream: tuple[str, int], toxics: Toxics, *, control_port: int = 0, seed: int | None = None
) -> None:
    rng = random.Random(seed)
    live = Live(toxics)
    active: set[asyncio.Task[None]] = set()

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        active.add(task)
        try:
            await forward(client_reader, client_writer)
        finally:
            active.discard(task)

    async def forward(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        peer = client_writer.get_extra_info("peername")
        try:
            server_reader, server_writer = await asyncio.open_connection(*upstream)
        except OSError as exc:
            log(f"{peer[0]}:{peer[1]}: upstream {upstream[0]}:{upstream[1]} unreachable: {exc}")
            client_writer.transport.abort()
            return
        await asyncio.gather(
            pump(client_reader, server_writer, live, "upstream", rng),
            pump(server_reader, client_writer, live, "downstream", rng),
        )
        for writer in (server_writer, client_writer):
            writer.close()

    server = await asyncio.start_server(handle, "0.0.0.0", port, backlog=1024)
    controls = None
    if control_port:
        controls = await asyncio.start_server(lambda r, w: control(live, r, w), "0.0.0.0", control_port)
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)  # PID 1 has no default
    said = f", control on {control_port}" if control_port else ""
    log(f"listening on 0.0.0.0:{port}, forwarding to {upstream[0]}:{upstream[1]}{said} with {toxics.describe()}")
    await stopping.wait()
    server.close()  # new connections are refused from now on: clients retry and find the real server
    if controls is not None:
        controls.close()
    live.set(Toxics())  # a stall ends: what is in flight is passed on and drains
    log(f"stopping: {len(active)} connection(s) in flight, grace {GRACE:g} s")
    if active:
        await asyncio.wait(active, timeout=GRACE)
    log("stopped")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m impair", description=__doc__)
    parser.add_argument("--port", type=int, default=9736, help="port to accept on")
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the real server")
    parser.add_argument("--control-port", type=int, default=0, help="port of the toxics' API (0: none)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the jitter and slicer draws")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--slice-average", type=int, default=0, help="slicer average_size in bytes")
    parser.add_argument("--slice-variation", type=int, default=0, help="slicer size_variation in bytes")
    parser.add_argument("--slice-delay-us", type=int, default=0, help="slicer delay between pieces")
    parser.add_argument("--timeout-ms", type=float, default=None, help="stall; close after this long (0: never)")
    parser.add_argument("--stream", action="append", choices=STREAMS, help="which direction (default downstream)")
    args = parser.parse_args(argv)
    host, _, port = args.upstream.rpartition(":")
    try:
        toxics = Toxics(
            args.latency_ms,
            args.jitter_ms,
            args.slice_average,
            args.slice_variation,
            args.slice_delay_us,
            args.timeout_ms,
            tuple(args.stream or ["downstream"]),
        )
    except ValueError as exc:
        parser.error(str(exc))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, (host, int(port)), toxics, control_port=args.control_port, seed=args.seed))
    return 0
