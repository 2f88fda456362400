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

import contextlib
import gc
import os
import select
import signal
import socket
import time

from ..config import ServerConfig
from ..core import Server
from ..handler import Connection, StreamHandler
from ..log import Log
from ..protocol import REQUEST_SIZE, reply_for

SERVED, NOT_SERVED = 0, 3  # the child's exit status
REPLIES = [reply_for(bytes([value])) for value in range(256)]  # made before any fork: children only read it


class ForkingMixIn(Server):
    model = "fork"
    summary_thread = False  # no thread in the parent: every fork would pay for it (see server/log.py)

    def __init__(self, config: ServerConfig, log: Log | None = None) -> None:
        super().__init__(config, log)
        self.children: set[int] = set()
        gc.freeze()  # what start-up made stays shared with every child
        self.unforked = 0  # connections closed unanswered since fork() last failed
        # Without a line per connection, the child needs none of the handler's objects: it answers with
        # bare os calls (the handler's rule, the same outcome in its exit status), touching few pages.
        self.lean_child = not self.log.per_connection and type(self.serve_one) is StreamHandler
        signal.signal(signal.SIGCHLD, lambda _sig, _frame: self.wake())

    def process_request(self, conn: Connection) -> None:
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
            return
        # The child: serve this one connection and leave without running the parent's cleanup.
        status = 1
        gc.disable()  # it lives for one connection; collecting would only copy pages
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            # A SIGTERM sent to the whole group must not cut an answer short: the parent drains, and
            # kills what is left when the grace period ends. Ctrl-C still ends everything at once.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            self.listener.close()
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
        return len(self.children)

    def drain(self, deadline: float) -> int:
        while self.children and time.monotonic() < deadline:
            self._reap(block=False)
            if self.children:
                time.sleep(0.05)  # waitpid has no timeout; a short nap keeps the deadline honest
        if self.children:
            for pid in self.children:
                os.kill(pid, signal.SIGKILL)
            abandoned = len(self.children)
            while self.children:
                self._reap(block=True)
            return abandoned
        return 0


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
