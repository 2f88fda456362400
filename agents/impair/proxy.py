"""``python -m impair --upstream HOST:PORT [toxics]``: accept on 0.0.0.0:PORT, forward to the upstream.

Each connection gets its own upstream connection and two pumps; a half-close (EOF) is passed on, so a
client that shuts down its sending side still gets its answer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import sys
import time

from .toxics import STREAMS, Toxics, delay_seconds, slices

READ_SIZE = 65536


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} impair: {message}", file=sys.stderr, flush=True)


async def pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, toxics: Toxics | None, rng: random.Random
) -> None:
    """Copy one direction until EOF, impairing with ``toxics`` (None: untouched); pass the EOF on."""
    try:
        while data := await reader.read(READ_SIZE):
            if toxics is not None and toxics.timeout_ms is not None:
                if toxics.timeout_ms:
                    await asyncio.sleep(toxics.timeout_ms / 1000)
                    break
                await asyncio.Event().wait()  # stall forever: the peer's own timeout decides
            if toxics is not None:
                await asyncio.sleep(delay_seconds(toxics, rng))
                for piece in slices(data, toxics, rng):
                    writer.write(piece)
                    await writer.drain()
                    if toxics.slice_delay_us:
                        await asyncio.sleep(toxics.slice_delay_us / 1e6)
            else:
                writer.write(data)
                await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.transport.abort()


GRACE = 10.0  # on SIGTERM: stop accepting, give the connections in flight this long to finish


async def serve(port: int, upstream: tuple[str, int], toxics: Toxics) -> None:
    rng = random.Random()
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
        up = toxics if "upstream" in toxics.streams else None
        down = toxics if "downstream" in toxics.streams else None
        await asyncio.gather(pump(client_reader, server_writer, up, rng), pump(server_reader, client_writer, down, rng))
        for writer in (server_writer, client_writer):
            writer.close()

    server = await asyncio.start_server(handle, "0.0.0.0", port, backlog=1024)
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)  # PID 1 has no default
    log(f"listening on 0.0.0.0:{port}, forwarding to {upstream[0]}:{upstream[1]} with {toxics.describe()}")
    await stopping.wait()
    server.close()  # new connections are refused from now on: clients retry and find the real server
    log(f"stopping: {len(active)} connection(s) in flight, grace {GRACE:g} s")
    if active:
        await asyncio.wait(active, timeout=GRACE)
    log("stopped")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m impair", description=__doc__)
    parser.add_argument("--port", type=int, default=9736, help="port to accept on")
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the real server")
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
        asyncio.run(serve(args.port, (host, int(port)), toxics))
    return 0
