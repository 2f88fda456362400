"""The accept loop, apart from any concurrency model (as in CPython's socketserver).

``Server`` owns the listening socket and the loop: print the waiting line, accept, hand the connection to
``process_request``. The base class serves it inline, one at a time; a model mixin overrides
``process_request`` (where the work runs), ``service_actions`` (housekeeping between accepts),
``in_flight`` and ``drain`` (what SIGTERM waits for). ``shutdown`` may be called from a signal handler.
"""

from __future__ import annotations

import contextlib
import errno
import selectors
import socket
import time
import traceback

from . import __version__
from .config import ServerConfig
from .handler import announced, handle
from .log import Log
from .names import PeerNames


class BindError(OSError):
    """The listening socket could not be set up (port in use, address not here, no permission)."""


def open_listener(bind: str, port: int, backlog: int) -> socket.socket:
    """A non-blocking listening TCP socket; BindError names the address and the reason."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # Lets a restarted server bind at once although old connections sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((bind, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise BindError(exc.errno, f"cannot listen on {bind}:{port}: {reason}") from exc
    sock.setblocking(False)
    return sock


class Server:
    """Accepts connections and serves each one inline: the iterative server of textbooks."""

    model = "serial"
    prints_own_summary = False  # a model that counts in its own way (several processes) prints the summary
    poll_interval = 0.5  # upper bound between housekeeping rounds when nothing wakes the loop

    def __init__(self, config: ServerConfig, log: Log | None = None) -> None:
        self.config = config
        self.log = log or Log()
        self.listener = open_listener(config.bind, config.port, config.backlog)
        self.address: tuple[str, int] = self.listener.getsockname()[:2]
        # A self-pipe: shutdown() and SIGCHLD write a byte so that select() wakes at once.
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stopping = False
        self.names = PeerNames(config.resolve_names)

    # --- the loop -------------------------------------------------------------------------------
    def serve_forever(self) -> int:
        """Serve until ``shutdown()``; then drain. Returns the number of connections abandoned."""
        self.log_started()
        with selectors.DefaultSelector() as selector:
            selector.register(self.listener, selectors.EVENT_READ, "listener")
            selector.register(self._wake_r, selectors.EVENT_READ, "wake")
            announce = True
            while not self._stopping:
                if announce:
                    self.log.waiting()
                accepted = self._accept(selector)
                if accepted is not None:
                    announce = self._serve_accepted(*accepted)
        return self._drain()

    def log_started(self) -> None:
        if not self.prints_own_summary:
            self.log.start_summary()
        c = self.config
        self.log.started(
            version=__version__,
            model=self.model,
            bind=self.address[0],
            port=self.address[1],
            backlog=c.backlog,
            delay=c.delay,
        )

    def _accept(self, selector: selectors.BaseSelector) -> tuple[socket.socket, tuple] | None:
        while not self._stopping:
            self.service_actions()
            for key, _ in selector.select(self.poll_interval):
                if key.data == "wake":
                    self._drain_wake_pipe()
                    continue
                try:
                    conn, address = self.listener.accept()
                except (BlockingIOError, InterruptedError):
                    continue  # another waiter took it, or the peer gave up before accept()
                except OSError as exc:
                    # EMFILE and friends: log and keep serving the connections we have.
                    self.log.error(f"accept failed: {exc}")
                    continue
                return conn, address
        return None

    def _serve_accepted(self, conn: socket.socket, address: tuple) -> bool:
        """Log one accepted connection and hand it to the model; False for a quiet health probe."""
        conn.setblocking(True)
        # The health check connects every few seconds from loopback: keep it out of the log.
        announce = announced(self.config, address[0])
        if announce:
            self.log.accepted(address)
        self._process_safely(conn, address)
        return announce

    def _process_safely(self, conn: socket.socket, address: tuple) -> None:
        try:
            self.process_request(conn, address)
        except Exception:  # noqa: BLE001 - a failing request never kills the server
            self.log.error(f"serving {address[0]}: {traceback.format_exc().strip()}")
            conn.close()

    def _accept_backlog(self) -> None:
        """Accept and serve what the kernel has already queued: close() would reset those connections."""
        while True:
            try:
                conn, address = self.listener.accept()
            except OSError:  # BlockingIOError: the queue is empty
                return
            self._serve_accepted(conn, address)

    def _drain(self) -> int:
        self._accept_backlog()
        # shutdown() acts on the socket itself, not this descriptor: a forked child that has not yet
        # closed its inherited copy cannot keep the port accepting. New connections are refused from here.
        with contextlib.suppress(OSError):  # not every platform allows it on a listener; close() follows
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.service_actions()
        self.log.stopping(self.in_flight(), self.config.grace)
        abandoned = self.drain(time.monotonic() + self.config.grace)
        self.log.stopped(abandoned)
        self._wake_r.close()
        self._wake_w.close()
        return abandoned

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

    def shutdown(self) -> None:
        """Stop accepting; ``serve_forever`` then drains and returns. Safe in a signal handler."""
        self._stopping = True
        self.wake()

    # --- the model's hooks: the base class serves inline -----------------------------------------
    def process_request(self, conn: socket.socket, address: tuple) -> None:
        self.finish_request(conn, address)

    def finish_request(self, conn: socket.socket, address: tuple) -> None:
        handle(conn, address, self.config, self.log, self.names)

    def service_actions(self) -> None:
        """Housekeeping between accepts (reaping children, joining threads)."""

    def in_flight(self) -> int:
        return 0

    def drain(self, deadline: float) -> int:
        """Wait for in-flight connections until ``deadline`` (monotonic); return how many did not finish."""
        return 0
