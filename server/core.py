"""The accept loop, apart from any concurrency model and any transport (as in CPython's socketserver).

``Server`` owns the listening socket and the loop: print the waiting line, accept, hand the connection to
``process_request``. Three class attributes make a server: ``transport`` (where it listens), ``handler``
(what serves one connection) and, through a mixin, the model. The base class serves inline, one at a
time; a model mixin overrides ``process_request`` (where the work runs), ``service_actions``
(housekeeping between accepts), ``in_flight`` and ``drain`` (what SIGTERM waits for). ``shutdown`` may
be called from a signal handler.
"""

from __future__ import annotations

import contextlib
import errno
import selectors
import socket
import time
import traceback
from collections.abc import Callable
from typing import ClassVar

from . import __version__
from .config import ServerConfig
from .handler import Connection, StreamHandler
from .log import Log
from .names import PeerNames
from .transports import TCP, BindError, Transport

__all__ = ["AcceptPause", "BindError", "Server"]

# accept() failing for want of resources: retrying at once only fails again, and floods the log.
OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# The listen backlog once descriptors run short: a queued connection costs the kernel a socket but the
# server no descriptor, so the clients that cannot be accepted yet wait there, their byte already sent.
# With the lesson's 5, the queue overflows: the kernel drops their SYNs and handshake ACKs, the clients
# back off exponentially (1, 2, 4, 8, 16 s…) and some are not answered for longer than they wait.
# Linux caps it at net.core.somaxconn (4096 by default).
CRUNCH_BACKLOG = 4096
ACCEPT_BATCH = 64  # accepts per wake-up before the model gets them (the listener is non-blocking)


class AcceptPause:
    """After accept() ran out of descriptors: pause accepting, longer each time; one log line per episode.

    The connections already open keep being served; as they close, descriptors free up and accepting
    resumes (at once: see ``Server.descriptor_freed``). A second line says when, and how many accepts
    failed meanwhile. Descriptors freed one at a time make short episodes one after another: one that
    starts within ``MERGE`` seconds of the last one's end is not logged again, so the log stays bounded.
    """

    FIRST, LONGEST = 0.05, 1.0  # seconds
    MERGE = 1.0  # seconds

    def __init__(self, log: Log, widen: Callable[[], None] | None = None) -> None:
        self.log = log
        self.widen = widen  # called at the first failure: make room in the kernel for the clients that wait
        self.failures = 0
        self.seconds = 0.0
        self._since = 0.0
        self._announced = False
        self._ended = -self.MERGE

    def failed(self, exc: OSError, in_flight: int) -> float:
        """Log the first failure of an episode; return how long to pause."""
        if not self.failures:
            self._since = time.monotonic()
            if self.widen is not None:
                self.widen()
                self.widen = None
            if self._since - self._ended >= self.MERGE:
                self._announced = True
                self.log.error(
                    f"accept failed: {exc.strerror or exc} ({errno.errorcode.get(exc.errno or 0, '?')}); "
                    f"pausing new connections while the {in_flight} open one(s) are served"
                )
        self.failures += 1
        self.seconds = min(max(self.FIRST, self.seconds * 2), self.LONGEST)
        return self.seconds

    def succeeded(self) -> None:
        if self.failures:
            self._ended = time.monotonic()
            if self._announced:
                took = self._ended - self._since
                self.log.line(f"accepting again after {took:.1f} s ({self.failures} accept(s) failed)")
                self._announced = False
            self.failures, self.seconds = 0, 0.0


class Server:
    """Accepts connections and serves each one inline: the iterative server of textbooks."""

    model: ClassVar[str] = "serial"
    # A model that counts in its own way (several processes) prints the summary itself.
    prints_own_summary: ClassVar[bool] = False
    # False: the summary is printed from the accept loop (``Log.tick``), with no thread in the process.
    summary_thread: ClassVar[bool] = True
    transport: ClassVar[Transport] = TCP
    handler: ClassVar[type[StreamHandler]] = StreamHandler
    poll_interval: ClassVar[float] = 0.5  # upper bound between housekeeping rounds when nothing wakes the loop
    accept_batch: ClassVar[int] = ACCEPT_BATCH  # connections taken from the kernel's queue per wake-up

    def __init__(self, config: ServerConfig, log: Log | None = None) -> None:
        self.config = config
        self.log = log or Log()
        self.listener = self.transport.open(config)
        self.where = self.transport.where(self.listener)
        # A self-pipe: shutdown() and SIGCHLD write a byte so that select() wakes at once.
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stopping = False
        self._accepted = 0
        self._freed = False  # a connection closed while accepting was paused for want of descriptors
        self.pause = AcceptPause(self.log, self._widen_backlog)
        self.names = PeerNames(config.resolve_names)
        self.serve_one = self.handler(config, self.log, self.names)
        # The accept loop's selector while it runs: a model may wait there on its connections too, with
        # the Connection as the key's data; ``readable`` is then called for it.
        self.selector: selectors.BaseSelector | None = None

    # --- the loop -------------------------------------------------------------------------------
    def serve_forever(self) -> int:
        """Serve until ``shutdown()``; then drain. Returns the number of connections abandoned."""
        self.log_started()
        with selectors.DefaultSelector() as selector:
            selector.register(self.listener, selectors.EVENT_READ, "listener")
            selector.register(self._wake_r, selectors.EVENT_READ, "wake")
            self.selector = selector
            announce = True
            while not self._stopping:
                if announce:
                    self.log.waiting()
                for k, accepted in enumerate(self._accept(selector)):
                    if k and announce:
                        self.log.waiting()  # the same lines as one accept at a time
                    announce = self.serve_accepted(accepted)
            self.selector = None
        return self._drain()

    def log_started(self) -> None:
        if not self.prints_own_summary:
            self.log.start_summary(thread=self.summary_thread)
        c = self.config
        self.log.started(
            version=__version__,
            model=self.model,
            transport=self.transport.name,
            where=self.where,
            backlog=c.backlog,
            delay=c.delay,
        )

    def _accept(self, selector: selectors.BaseSelector) -> list[Connection]:
        """The connections the kernel has queued (at least one, at most ``accept_batch``), or none when stopping.

        All of them before any is handed over: the accept queue is emptied at accept()'s speed, not at the
        model's, so that a flood of connects (idle clients) does not overflow a small backlog and get the
        next client's SYN dropped. The serial server takes one at a time (``accept_batch`` 1).
        """
        resume_at: float | None = None
        while not self._stopping:
            self.service_actions()
            summary_due = self.log.tick()
            if resume_at is not None and (self._freed or time.monotonic() >= resume_at):
                # A descriptor came free: accept now, before the backlog's clients time out in the queue.
                selector.register(self.listener, selectors.EVENT_READ, "listener")
                resume_at, self._freed = None, False
            timeout = self.poll_interval if resume_at is None else min(self.poll_interval, resume_at - time.monotonic())
            if summary_due is not None:
                timeout = min(timeout, summary_due)
            listener_ready = False
            for key, _ in selector.select(max(timeout, 0.0)):
                if key.data == "wake":
                    self._drain_wake_pipe()
                elif isinstance(key.data, Connection):
                    self.readable(key.data)
                else:
                    listener_ready = True
            if listener_ready:
                batch: list[Connection] = []
                while len(batch) < self.accept_batch:
                    try:
                        batch.append(self.accept())
                    except (BlockingIOError, InterruptedError):
                        break  # the queue is empty, or another waiter took it, or the peer gave up
                    except OSError as exc:
                        if exc.errno not in OUT_OF_RESOURCES:
                            self.log.error(f"accept failed: {exc}")  # one connection's trouble (ECONNABORTED)
                            continue
                        if batch:
                            break  # these first; the next call meets the failure again and pauses
                        selector.unregister(self.listener)
                        resume_at = time.monotonic() + self.pause.failed(exc, self.in_flight())
                        break
                if batch:
                    return batch
        return []

    def _widen_backlog(self) -> None:
        """Out of descriptors for the first time: let the kernel queue the clients we cannot accept yet."""
        if not self.transport.is_stream or self.config.backlog >= CRUNCH_BACKLOG:
            return
        try:
            self.listener.listen(CRUNCH_BACKLOG)
        except OSError as exc:
            self.log.error(f"cannot widen the listen backlog: {exc}")
            return
        self.log.line(
            f"listen backlog {self.config.backlog} -> {CRUNCH_BACKLOG} while descriptors are short: waiting "
            "clients queue in the kernel instead of having their connects dropped"
        )

    def accept(self) -> Connection:
        """One connection from the listener, as the models hand it around; OSError as accept() raises it."""
        sock, address = self.listener.accept()
        self.pause.succeeded()
        self._accepted += 1
        return Connection(
            sock=sock,
            peer=self.transport.peer(address, self._accepted),
            probe=self.transport.is_probe(address),
            accepted=time.monotonic(),
        )

    def serve_accepted(self, conn: Connection) -> bool:
        """Log one accepted connection and hand it to the model; False for a quiet health probe."""
        conn.sock.setblocking(True)
        announce = self.config.log_probes or not conn.probe
        if announce:
            self.log.accepted(conn.peer)
        try:
            self.process_request(conn)
        except Exception:  # noqa: BLE001 - a failing request never kills the server
            self.log.error(f"serving {conn.peer[0]}: {traceback.format_exc().strip()}")
            conn.sock.close()
        return announce

    def _accept_backlog(self) -> None:
        """Accept and serve what the kernel has already queued: close() would reset those connections."""
        while True:
            try:
                conn = self.accept()
            except OSError:  # BlockingIOError: the queue is empty
                return
            self.serve_accepted(conn)

    def _drain(self) -> int:
        self._accept_backlog()
        self.stop_listening()
        self.service_actions()
        self.log.stopping(self.in_flight(), self.config.grace)
        abandoned = self.drain(time.monotonic() + self.config.grace)
        self.log.stopped(abandoned)
        self.close()
        return abandoned

    def stop_listening(self) -> None:
        """Refuse new connections from here on (and remove a Unix socket's file)."""
        # shutdown() acts on the socket itself, not this descriptor: a forked child that has not yet
        # closed its inherited copy cannot keep the port accepting.
        with contextlib.suppress(OSError):  # not every platform allows it on a listener; close() follows
            self.listener.shutdown(socket.SHUT_RDWR)
        self.transport.close(self.listener, self.config)

    def close(self) -> None:
        self._wake_r.close()
        self._wake_w.close()

    def _drain_wake_pipe(self) -> None:
        try:
            while self._wake_r.recv(512):
                pass
        except BlockingIOError:
            pass

    def wake(self) -> None:
        """Make the loop look up now; safe in a signal handler."""
        # A full pipe means a wake-up is pending anyway; a closed one means the loop is gone.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    @property
    def stopping(self) -> bool:
        """True once ``shutdown()`` was called: no new requests are taken."""
        return self._stopping

    def shutdown(self) -> None:
        """Stop accepting; ``serve_forever`` then drains and returns. Safe in a signal handler."""
        self._stopping = True
        self.wake()

    # --- the model's hooks: the base class serves inline -----------------------------------------
    def process_request(self, conn: Connection) -> None:
        self.finish_request(conn)

    def finish_request(self, conn: Connection) -> None:
        self.serve_one(conn)

    def service_actions(self) -> None:
        """Housekeeping between accepts (reaping children, joining threads)."""

    def readable(self, conn: Connection) -> None:
        """A connection the model registered in ``selector`` has something to read (or its peer closed)."""

    def descriptor_freed(self) -> None:
        """A connection was closed: if accepting is paused for want of descriptors, resume at once.

        The back-off alone would leave the accept queue full for up to its longest pause after
        descriptors free up; meanwhile the kernel drops new SYNs and handshake ACKs, and clients back off
        for seconds. Safe from any thread.
        """
        if self.pause.failures:
            self._freed = True
            self.wake()

    def in_flight(self) -> int:
        return 0

    def drain(self, deadline: float) -> int:
        """Wait for in-flight connections until ``deadline`` (monotonic); return how many did not finish."""
        return 0
