"""One forked child per connection, as the original C server.

The parent closes its copy of the connection and goes back to accept(); the child serves and exits.
Children are reaped as soon as they exit: SIGCHLD wakes the accept loop, which calls waitpid(WNOHANG),
so no zombie outlives its connection by more than one loop turn — and the parent knows which children
are still serving, which SIGCHLD=SIG_IGN (the original's trick) would hide from it.

Lean forks (measured in docs/drafts/peers.md): a fork's cost grows with the parent's memory (page tables
copied, pages faulted back in by copy-on-write), so the parent imports only its own model
(``models.server_class``), freezes its start-up objects out of the collector's reach (a collection in a
child would write to every object's header and copy the page it is on) and the child never collects.
The child's exit status says whether it answered, so the parent's summary counts need no pipe.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # no stub: the C function under signal.signal
import contextlib
import gc
import os
import select
import selectors
import signal
import socket
import time

from ..config import ServerConfig
from ..core import Server
from ..handler import Connection, PeerClosedEmpty, PeerIdle, StreamHandler, report
from ..log import Log
from ..protocol import REQUEST_SIZE, reply_for

SERVED, NOT_SERVED = 0, 3  # the child's exit status
FD_CEILING = 1 << 20  # above any descriptor (dockerd caps a process at 20,000 here; Linux at 2**20)
REPLIES = [reply_for(bytes([value])) for value in range(256)]  # made before any fork: children only read it
SIGTERM, SIGINT, SIG_IGN, SIG_DFL = (int(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIG_IGN, signal.SIG_DFL))


class ForkingMixIn(Server):
    model = "fork"
    summary_thread = False  # no thread in the parent: every fork would pay for it (see server/log.py)

    def __init__(self, config: ServerConfig, log: Log | None = None) -> None:
        super().__init__(config, log)
        self.children: set[int] = set()
        # Accepted connections that have sent nothing yet, in accept order (so their idle deadlines are in
        # order too): a child is forked once one has its byte, or its peer closed.
        self.unread: dict[socket.socket, Connection] = {}
        gc.freeze()  # what start-up made stays shared with every child
        self.unforked = 0  # connections closed unanswered since fork() last failed
        # Without a line per connection, the child needs none of the handler's objects: it answers with
        # bare os calls (the handler's rule, the same outcome in its exit status), touching few pages.
        self.lean_child = not self.log.per_connection and type(self.serve_one) is StreamHandler
        signal.signal(signal.SIGCHLD, lambda _sig, _frame: self.wake())

    def process_request(self, conn: Connection) -> None:
        """Fork once the connection has something to read: an idle connection costs no process.

        A thousand connected clients that send nothing would otherwise be a thousand forks (each ~1 ms of
        the parent's time here) ahead of the next client in the accept queue, and with the lesson's
        backlog of 5 that queue overflows: the next client's SYN is dropped and retried a second later.
        A byte already there at accept (the usual case under load) forks at once, with no turn of the loop.
        """
        if self.selector is None:  # no loop to wait in (the drain's first accepts): fork now
            self._fork(conn)
            return
        has = _peek(conn.sock)
        if has is None:
            self.selector.register(conn.sock, selectors.EVENT_READ, conn)
            self.unread[conn.sock] = conn
            return
        self._start(conn, closed=not has)

    def readable(self, conn: Connection) -> None:
        """The byte has come (fork), or the peer closed without sending: that needs no child."""
        has = _peek(conn.sock)
        if has is None:
            return  # nothing after all: keep waiting
        self._stop_waiting(conn)
        self._start(conn, closed=not has)

    def _start(self, conn: Connection, *, closed: bool) -> None:
        if not closed:
            self._fork(conn)
            return
        conn.sock.close()
        report(PeerClosedEmpty(), conn.peer, conn.probe, self.config, self.log, self.names)

    def _stop_waiting(self, conn: Connection) -> None:
        del self.unread[conn.sock]
        if self.selector is not None:
            self.selector.unregister(conn.sock)

    def _expire_idle(self) -> None:
        """Close the connections that sent nothing within the idle timeout, as the handler would."""
        limit = time.monotonic() - self.config.idle_timeout
        while self.unread:
            conn = next(iter(self.unread.values()))
            if conn.accepted > limit:
                return
            self._stop_waiting(conn)
            conn.sock.close()
            report(PeerIdle(), conn.peer, conn.probe, self.config, self.log, self.names)

    def _fork(self, conn: Connection) -> None:
        try:
            pid = os.fork()
        except OSError as exc:  # EAGAIN: a process limit (pids_limit, RLIMIT_NPROC); ENOMEM
            self._cannot_fork(conn, exc)
            return
        if pid:
            if self.unforked:
                self.log.line(f"fork works again; {self.unforked} connection(s) were closed unanswered meanwhile")
                self.unforked = 0
            self.children.add(pid)
            conn.sock.close()
            self.descriptor_freed()
            return
        # The child: serve this one connection and leave without running the parent's cleanup.
        status = 1
        gc.disable()  # it lives for one connection; collecting would only copy pages
        try:
            # A SIGTERM sent to the whole group must not cut an answer short: the parent drains, and
            # kills what is left when the grace period ends. Ctrl-C still ends everything at once.
            # ``_signal`` with ints made before the fork: ``signal.signal``'s enum round trips touch enough
            # objects (copy-on-write) to cost 0.2 ms per child here. The parent's SIGCHLD handler needs no
            # reset: this child has no children.
            _signal.signal(SIGTERM, SIG_IGN)
            _signal.signal(SIGINT, SIG_DFL)
            self.listener.close()
            fd = conn.sock.fileno()
            # The parent's other descriptors (connections still unread, the wake pipe, the selector): the
            # child needs none, and holding them would keep an idle client's connection open after the
            # parent closed it.
            os.closerange(3, fd)
            os.closerange(fd + 1, FD_CEILING)
            if self.lean_child:
                status = _answer(conn.sock.fileno(), self.config.delay, self.config.idle_timeout)
            else:
                served_before = self.log.counts.served
                self.finish_request(conn)
                status = SERVED if self.log.counts.served > served_before else NOT_SERVED
        except BaseException as exc:  # noqa: BLE001 - a child must never return into the accept loop
            self.log.error(f"child {os.getpid()} failed: {exc!r}")
        finally:
            os._exit(status)

    def _cannot_fork(self, conn: Connection, exc: OSError) -> None:
        """No child for this connection: close it cleanly (the client sees a close, and may retry).

        Serving it in the parent would stop the accept loop for the whole delay, and a thread counts
        against the same process limit. One line when it starts failing, one when it works again.
        """
        if not self.unforked:
            self.log.error(
                f"cannot fork ({exc.strerror or exc}) with {len(self.children)} children serving: closing new "
                "connections unanswered until one exits"
            )
        self.unforked += 1
        self.log.outcome(False)  # an accepted connection that ended without an answer (the summary's errors)
        _close_cleanly(conn.sock)
        self._reap(block=False)

    def service_actions(self) -> None:
        self._reap(block=False)
        self._expire_idle()

    def _reap(self, block: bool) -> None:
        while self.children:
            try:
                pid, _status = os.waitpid(-1, 0 if block else os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            if pid in self.children:
                self.log.outcome(os.waitstatus_to_exitcode(_status) == SERVED)
            self.children.discard(pid)
            if block:
                return

    def in_flight(self) -> int:
        return len(self.children) + len(self.unread)

    def drain(self, deadline: float) -> int:
        with selectors.DefaultSelector() as self.selector:
            for conn in self.unread.values():
                self.selector.register(conn.sock, selectors.EVENT_READ, conn)
            while (self.children or self.unread) and time.monotonic() < deadline:
                self._reap(block=False)
                self._expire_idle()
                # waitpid has no timeout: a short wait keeps the deadline honest
                for key, _ in self.selector.select(0.05) if self.unread else ():
                    self.readable(key.data)
                if not self.unread and self.children:
                    time.sleep(0.05)
        self.selector = None
        for conn in list(self.unread.values()):  # still silent at the end of the grace: abandoned
            conn.sock.close()
        unread, self.unread = len(self.unread), {}
        if self.children:
            for pid in self.children:
                os.kill(pid, signal.SIGKILL)
            abandoned = len(self.children)
            while self.children:
                self._reap(block=True)
            return abandoned + unread
        return unread


def _peek(sock: socket.socket) -> bool | None:
    """True: the byte is there (it stays for the child); False: the peer closed without one; None: nothing yet.

    A reset counts as a byte: the child meets it and reports it as the handler does.
    """
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return None
    except OSError:
        return True


def _answer(fd: int, delay: float, idle_timeout: float) -> int:
    """The handler's exchange on a bare descriptor: wait for the byte, wait ``delay``, answer; the exit status.

    Each page a child writes is a page copied (copy-on-write), so this touches as few objects as it can.
    """
    try:
        if not select.select((fd,), (), (), idle_timeout)[0]:
            return NOT_SERVED  # idle: the handler's PeerIdle
        request = os.read(fd, REQUEST_SIZE)
        if not request:
            return NOT_SERVED  # closed without sending
        if delay:
            time.sleep(delay)
        os.write(fd, REPLIES[request[0]])  # one byte on a blocking socket: written whole, or an error
    except OSError:
        return NOT_SERVED  # reset or broken pipe: the handler's ConnectionLost
    return SERVED


def _close_cleanly(sock: socket.socket) -> None:
    """FIN, not RST: closing with the client's byte still unread would reset the connection."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
        sock.setblocking(False)
        while sock.recv(4096):  # whatever has arrived; a byte arriving later meets an EOF already read
            pass
    sock.close()
