"""One event loop for every connection (asyncio Protocols): no process or thread per client.

The accept loop of ``core.Server`` is replaced by asyncio's, but everything else is shared: the
listening socket, the protocol rule, the log lines, the probe rule and the SIGTERM drain. Each
connection is a small state machine driven by callbacks: first byte → a timer of ``delay`` → answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

from ..core import Server
from ..handler import announced
from ..log import Peer
from ..protocol import reply_for


class _Connection(asyncio.Protocol):
    def __init__(self, server: AsyncServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.address: tuple = ("?", 0)
        self.request: bytes | None = None
        self.answered = False
        self.started = time.monotonic()
        self.timer: asyncio.TimerHandle | None = None

    # asyncio's callbacks ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.address = transport.get_extra_info("peername")
        self.server.opened(self)
        self.timer = self.server.loop.call_later(self.server.config.idle_timeout, self._idle)

    def data_received(self, data: bytes) -> None:
        if self.request is not None:
            return  # only the first byte counts, as in every model
        self.request = data[:1]
        assert self.transport is not None and self.timer is not None
        self.transport.pause_reading()
        self.timer.cancel()
        self.timer = self.server.loop.call_later(self.server.config.delay, self._answer)

    def eof_received(self) -> bool:
        if self.request is None:
            if announced(self.server.config, self.address[0]):
                self.server.log_with_name(self.address, "empty")
            self._close()
        return True  # keep our side open until the answer is written

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if exc is not None and self.request is not None and not self.answered:
            self.server.log_with_name(self.address, "lost", reason=str(exc))
        self.server.closed(self)

    # our own steps ---------------------------------------------------------------------------------
    def _idle(self) -> None:
        self.server.log_with_name(self.address, "idle")
        self._close()

    def _answer(self) -> None:
        assert self.transport is not None and self.request is not None
        reply = reply_for(self.request)
        self.transport.write(reply)
        self.answered = True
        self._close()
        self.server.log_with_name(
            self.address, "served", request=self.request[0], reply=reply[0], seconds=time.monotonic() - self.started
        )

    def _close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()  # flushes the answer first

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class AsyncServer(Server):
    model = "async"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.connections: set[_Connection] = set()
        self.pending_logs: set[asyncio.Future] = set()
        self.loop: asyncio.AbstractEventLoop
        self._stop: asyncio.Event
        self._idle_now: asyncio.Event

    def serve_forever(self) -> int:
        return asyncio.run(self._serve())

    def shutdown(self) -> None:
        self._stopping = True
        loop = getattr(self, "loop", None)
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is already gone
                loop.call_soon_threadsafe(self._stop.set)

    # bookkeeping called by the connections ---------------------------------------------------------
    def opened(self, connection: _Connection) -> None:
        self.connections.add(connection)
        self._idle_now.clear()
        if announced(self.config, connection.address[0]):
            self.log.accepted(connection.address)
            self.log.waiting()

    def closed(self, connection: _Connection) -> None:
        self.connections.discard(connection)
        if not self.connections:
            self._idle_now.set()

    def log_with_name(self, address: tuple, event: str, **details: object) -> None:
        """Log an event once the peer's name is known; the lookup runs in a thread, off the loop.
        Without per-connection lines (summary, off) there is no name to look up: just count."""
        if not self.log.per_connection:
            self._emit(Peer(address[0], address[1]), event, details)
            return
        self.pending_logs.add(fut := asyncio.ensure_future(self._log(address, event, details)))
        fut.add_done_callback(self.pending_logs.discard)

    async def _log(self, address: tuple, event: str, details: dict) -> None:
        name = await self.loop.run_in_executor(None, self.names.name_of, address[0], address[1])
        self._emit(Peer(address[0], address[1], name), event, details)

    def _emit(self, peer: Peer, event: str, details: dict) -> None:
        if event == "served":
            self.log.served(peer, details["request"], details["reply"], details["seconds"])  # type: ignore[arg-type]
        elif event == "idle":
            self.log.idle(peer, self.config.idle_timeout)
        elif event == "empty":
            self.log.empty(peer)
        else:
            self.log.reset(peer, str(details.get("reason")))

    # the loop --------------------------------------------------------------------------------------
    async def _serve(self) -> int:
        self.loop = asyncio.get_running_loop()
        self._stop, self._idle_now = asyncio.Event(), asyncio.Event()
        self._idle_now.set()
        if self._stopping:  # SIGTERM before the loop existed
            self._stop.set()
        c = self.config
        self.log_started()
        self.log.waiting()
        server = await self.loop.create_server(lambda: _Connection(self), sock=self.listener, backlog=c.backlog)
        await self._stop.wait()

        # Stop accepting; what the kernel has already queued is accepted and served, not reset.
        with contextlib.suppress(OSError):  # BlockingIOError: the queue is empty
            while True:
                conn, _address = self.listener.accept()
                await self.loop.connect_accepted_socket(lambda: _Connection(self), conn)
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        server.close()  # closes the listener too
        self._wake_r.close()
        self._wake_w.close()

        self.log.stopping(len(self.connections), c.grace)
        abandoned = 0
        try:
            await asyncio.wait_for(self._idle_now.wait(), timeout=c.grace)
        except TimeoutError:
            abandoned = len(self.connections)
            for connection in list(self.connections):
                connection.abort()
        if self.pending_logs:
            await asyncio.gather(*self.pending_logs, return_exceptions=True)
        self.log.stopped(abandoned)
        return abandoned
