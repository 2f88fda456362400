"""One event loop for every connection (asyncio Protocols): no process or thread per client.

Only the waiting is asyncio's: the listening socket, the accept (with the same pause when descriptors run
out), the protocol rule, the outcomes and their log lines and the SIGTERM drain are the shared ones of
``core.Server``, reached through the same hooks as every model. Each connection is a small state machine
driven by callbacks: first byte → a timer of ``delay`` → answer. Over UDP each datagram is one: arrival →
a timer of ``delay`` → answer to its sender, many in flight at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar, cast

from ..config import ServerConfig
from ..core import OUT_OF_RESOURCES, Server
from ..handler import Connection, ConnectionLost, Outcome, PeerClosedEmpty, PeerIdle, Served, report
from ..log import Log, Peer
from ..protocol import reply_for

ACCEPTS_PER_WAKE = 64  # accepts per readiness event, so a flood of connects cannot starve the timers


class StreamConnection(asyncio.Protocol):
    """One accepted stream connection."""

    def __init__(self, server: AsyncServer, conn: Connection) -> None:
        self.server, self.conn = server, conn
        self.transport: asyncio.Transport | None = None
        self.request: bytes | None = None
        self.answered = False
        self.timer: asyncio.TimerHandle | None = None

    # asyncio's callbacks ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
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
            self._finish(PeerClosedEmpty())
        return True  # keep our side open until the answer is written

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if exc is not None and self.request is not None and not self.answered:
            self.server.report(self.conn, ConnectionLost(str(exc)))
        self.server.closed(self)

    # our own steps ---------------------------------------------------------------------------------
    def _idle(self) -> None:
        self._finish(PeerIdle())

    def _answer(self) -> None:
        assert self.transport is not None and self.request is not None
        reply = reply_for(self.request)
        self.transport.write(reply)
        self.answered = True
        self._finish(Served(self.request[0], reply[0], time.monotonic() - self.conn.accepted))

    def _finish(self, outcome: Outcome) -> None:
        self.server.report(self.conn, outcome)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()  # flushes the answer first

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class EmptyDatagram(Outcome):
    """A datagram with no byte: answered at once with an empty one, so a health check can ask "alive?"."""

    quiet_for_probes = True

    def log_to(self, log: Log, peer: Peer, config: ServerConfig) -> None:
        log.empty_datagram(peer)


class DatagramEndpoint(asyncio.DatagramProtocol):
    """The UDP socket: each datagram's first byte is answered after the delay to its sender."""

    def __init__(self, server: AsyncServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None
        self.waiting: dict[Connection, asyncio.TimerHandle] = {}  # the requests whose answer is due

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # CPython's selector transport for UDP does not subclass DatagramTransport (3.11), but is one.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.server.stopping:
            return  # as a closed listener: no new requests during the drain
        server = self.server
        server.datagrams += 1
        conn = Connection(
            sock=server.listener,
            peer=server.transport.peer(addr, server.datagrams),
            probe=server.transport.is_probe(addr),
            accepted=time.monotonic(),
        )
        if not data:
            # asyncio's sendto() drops an empty payload (3.11): the socket itself sends the empty answer.
            with contextlib.suppress(OSError):  # the prober has gone, or the buffer is full: it retries
                server.listener.sendto(b"", addr)
            server.report(conn, EmptyDatagram())
            return
        if server.config.log_probes or not conn.probe:
            server.log.received(conn.peer)
        self.waiting[conn] = server.loop.call_later(server.config.delay, self._answer, data[:1], addr, conn)

    def _answer(self, request: bytes, addr: tuple[str, int], conn: Connection) -> None:
        del self.waiting[conn]
        reply = reply_for(request)
        self._send(reply, addr)
        self.server.report(conn, Served(request[0], reply[0], time.monotonic() - conn.accepted))
        self.server.settle()

    def _send(self, payload: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(payload, addr)

    def error_received(self, exc: Exception) -> None:
        # An ICMP error for an earlier answer (the sender has gone): nothing to retry, worth a line.
        self.server.log.error(f"udp: {exc}")

    def in_flight(self) -> int:
        return len(self.waiting)

    def abandon(self) -> None:
        for answer in self.waiting.values():
            answer.cancel()
        self.waiting.clear()


class AsyncServer(Server):
    model = "async"
    stream_protocol: ClassVar[type[StreamConnection]] = StreamConnection

    def __init__(self, config: ServerConfig, log: Log | None = None) -> None:
        super().__init__(config, log)
        self.loop = asyncio.new_event_loop()
        # Made now, not on the first lookup: importing it then needs a descriptor, which may be the one missing.
        self.loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="names"))
        self.connections: set[StreamConnection] = set()
        self.pending_logs: set[asyncio.Future[None]] = set()
        self.datagrams = 0
        self.endpoint: DatagramEndpoint | None = None
        self._idle_now = asyncio.Event()
        self._stopped = asyncio.Event()

    # --- the loop: asyncio waits, the shared code decides --------------------------------------------
    def serve_forever(self) -> int:
        try:
            self.loop.run_until_complete(self._serve_until_stopped())
            return self._drain()
        finally:
            self.loop.close()

    async def _serve_until_stopped(self) -> None:
        self.log_started()
        self.log.waiting()
        self.loop.add_reader(self._wake_r, self._on_wake)
        if self.transport.is_stream:
            self.loop.add_reader(self.listener, self._on_acceptable)
        else:
            _transport, self.endpoint = await self.loop.create_datagram_endpoint(
                lambda: DatagramEndpoint(self), sock=self.listener
            )
        self._on_wake()  # SIGTERM may have come before the loop ran
        await self._stopped.wait()
        self.loop.remove_reader(self._wake_r)

    def _on_wake(self) -> None:
        self._drain_wake_pipe()
        if self._stopping:
            self._stopped.set()

    def _on_acceptable(self) -> None:
        for _ in range(ACCEPTS_PER_WAKE):
            try:
                conn = self.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno not in OUT_OF_RESOURCES:
                    self.log.error(f"accept failed: {exc}")
                    continue
                self.loop.remove_reader(self.listener)
                pause = self.pause.failed(exc, self.in_flight())
                self.loop.call_later(pause, self._resume_accepting)
                return
            if self.serve_accepted(conn):
                self.log.waiting()

    def _resume_accepting(self) -> None:
        if not self._stopping:
            self.loop.add_reader(self.listener, self._on_acceptable)

    # --- the model's hooks ----------------------------------------------------------------------------
    def process_request(self, conn: Connection) -> None:
        conn.sock.setblocking(False)
        protocol = self.stream_protocol(self, conn)
        self.connections.add(protocol)
        self._idle_now.clear()
        task = self.loop.create_task(self.loop.connect_accepted_socket(lambda: protocol, conn.sock))
        task.add_done_callback(lambda done: self._failed_to_attach(done, protocol))

    def _failed_to_attach(self, task: asyncio.Task[object], protocol: StreamConnection) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error(f"serving {protocol.conn.peer[0]}: {task.exception()!r}")
            protocol.conn.sock.close()
            self.closed(protocol)

    def stop_listening(self) -> None:
        if self.transport.is_stream:
            self.loop.remove_reader(self.listener)
            super().stop_listening()
        # UDP: the socket stays open for the answers in flight; new datagrams are ignored (see ``stopping``).

    def in_flight(self) -> int:
        return len(self.connections) + (self.endpoint.in_flight() if self.endpoint else 0)

    def drain(self, deadline: float) -> int:
        return self.loop.run_until_complete(self._drained(deadline))

    def close(self) -> None:
        if self.endpoint is not None and self.endpoint.transport is not None:
            self.endpoint.transport.close()
            self.loop.run_until_complete(asyncio.sleep(0))  # let the transport finish closing
        self.transport.close(self.listener, self.config)
        super().close()

    async def _drained(self, deadline: float) -> int:
        self.settle()
        try:
            await asyncio.wait_for(self._idle_now.wait(), timeout=max(0.0, deadline - time.monotonic()))
            abandoned = 0
        except TimeoutError:
            abandoned = self.in_flight()
            for connection in list(self.connections):
                connection.abort()
            if self.endpoint is not None:
                self.endpoint.abandon()
        if self.pending_logs:
            await asyncio.gather(*self.pending_logs, return_exceptions=True)
        return abandoned

    # --- bookkeeping called by the connections ----------------------------------------------------------
    def closed(self, connection: StreamConnection) -> None:
        self.connections.discard(connection)
        self.settle()

    def settle(self) -> None:
        """Mark the server idle when nothing is in flight (the drain waits for it)."""
        if not self.in_flight():
            self._idle_now.set()

    def report(self, conn: Connection, outcome: Outcome) -> None:
        """Log an outcome as the blocking handler does; the name lookup runs in a thread, off the loop."""
        pending: asyncio.Future[None] = self.loop.run_in_executor(
            None, report, outcome, conn.peer, conn.probe, self.config, self.log, self.names
        )
        self.pending_logs.add(pending)
        pending.add_done_callback(self.pending_logs.discard)
