"""The fast model: one epoll loop per process, as close to the C reference (agents/peers/epoll_server.c) as
Python gets with the standard library alone.

Where the time goes per connection, and what is done about it:
- accept: the listener is drained in batches (``_accept()`` gives a bare descriptor and address: no
  socket object is made for a connection at all); reads, the answer and the close are ``os`` calls;
- a second wake-up: a client sends its byte right after the handshake, so by the time it is accepted the
  byte is usually there (``FIONREAD``): it is read at once, with no ``epoll_ctl`` and no second turn of
  the loop, which is what a connection costs the interpreter most; only the others wait in the epoll set;
- timers: every connection waits the same delay, so deadlines arrive in order and a deque is the whole
  timer queue (O(1), no heap); the idle timeout, also equal for all, is a second deque whose stale
  entries (answered connections) are dropped from the front as the loop goes;
- allocation: a connection costs a dict entry and a tuple in a deque; answers are 256 ready-made bytes;
- the collector: nothing here makes reference cycles, so the objects of start-up are frozen and
  collections stay rare;
- logging: ``SOCKLAB_LOG=summary`` prints one line a second instead of two per connection.

``SOCKLAB_WORKERS=N`` forks N such loops, each with its own ``SO_REUSEPORT`` listener on the same port
(the kernel spreads connections over them; one process holds at most the engine's 20,000 descriptors).
The parent forwards SIGTERM, each worker drains as ``core.Server`` does, and the parent sums the counts.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import mmap
import os
import select
import signal
import socket
import struct
import termios
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..core import OUT_OF_RESOURCES, BindError, Server
from ..handler import ConnectionLost, Outcome, PeerClosedEmpty, PeerIdle, Served, report

REPLIES = [bytes([(value + 1) % 256]) for value in range(256)]  # the answer to every byte, made once
ACCEPT_BATCH = 1024  # accepts per listener wake-up, so timers and reads get their turn
COUNTER = struct.Struct("4q")  # accepted, served, errors, abandoned: one slot per worker in shared memory
READ_ONCE = select.EPOLLIN | select.EPOLLONESHOT  # one byte is all we read: the fd leaves the set after it
FIONREAD, NO_BYTES = termios.FIONREAD, bytes(4)  # ioctl: how many bytes wait to be read (an int, 4 bytes)


class Counters:
    """Per-worker counts in anonymous shared memory: each worker writes its own slot, anyone sums."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.memory = mmap.mmap(-1, COUNTER.size * workers)  # MAP_SHARED: children see the parent's pages

    def store(self, slot: int, accepted: int, served: int, errors: int, abandoned: int = 0) -> None:
        COUNTER.pack_into(self.memory, slot * COUNTER.size, accepted, served, errors, abandoned)

    def totals(self) -> tuple[int, int, int, int]:
        sums = [0, 0, 0, 0]
        for slot in range(self.workers):
            for k, value in enumerate(COUNTER.unpack_from(self.memory, slot * COUNTER.size)):
                sums[k] += value
        return sums[0], sums[1], sums[2], sums[3]


def reuse_port_listener(bind: str, port: int, backlog: int) -> socket.socket:
    """A non-blocking listener in a SO_REUSEPORT group: each worker's own accept queue on one port."""
    sock = socket.socket(socket.AF_INET6 if ":" in bind else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((bind, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise BindError(exc.errno, f"cannot listen on {bind}:{port}: {exc.strerror or exc}") from exc
    sock.setblocking(False)
    return sock


class EpollServer(Server):
    model = "epoll"
    prints_own_summary = True  # counts live in shared memory, summed by whichever process prints

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.workers = self.config.workers
        self.log_mode = self.config.log
        self.counters = Counters(self.workers)
        self.slot = 0
        self.pids: list[int] = []
        self.reports: ThreadPoolExecutor  # the logger thread; made in each process's loop (threads do not fork)
        if self.workers > 1:
            # Every listener of a SO_REUSEPORT group must set it before bind(): reopen ours that way.
            bound = self.listener.getsockname()[:2]
            self.listener.close()
            self.listener = reuse_port_listener(bound[0], bound[1], self.config.backlog)

    # --- logging ---------------------------------------------------------------------------------
    def summary_line(self) -> None:
        accepted, served, errors, _ = self.counters.totals()
        self.log.summary(accepted=accepted, served=served, in_flight=accepted - served - errors, errors=errors)

    # --- the parent of several workers -------------------------------------------------------------
    def serve_forever(self) -> int:
        self.log_started()
        if self.workers == 1:
            return self._loop()
        for slot in range(self.workers):
            listener = self.listener if slot == 0 else self._reuse_port_listener()
            pid = os.fork()
            if pid == 0:
                self._become_worker(slot, listener)  # never returns
            self.pids.append(pid)
            if slot:
                listener.close()
        self.listener.close()
        return self._supervise()

    def _reuse_port_listener(self) -> socket.socket:
        host, port = self.listener.getsockname()[:2]
        return reuse_port_listener(host, port, self.config.backlog)

    def _become_worker(self, slot: int, listener: socket.socket) -> None:
        status = 1
        try:
            self.slot, self.pids = slot, []
            self.listener = listener
            self._wake_r, self._wake_w = socket.socketpair()  # the parent's pipe would wake every worker
            self._wake_r.setblocking(False)
            self._wake_w.setblocking(False)
            status = 1 if self._loop(worker=True) else 0
        except BaseException as exc:  # noqa: BLE001 - a worker must never return into the parent's code
            self.log.error(f"worker {slot} failed: {exc!r}")
        finally:
            os._exit(status)

    def _supervise(self) -> int:
        """Wait for the workers; forward the stop; print the summary once a second."""
        running = set(self.pids)
        forwarded = False
        next_summary = time.monotonic() + 1.0
        while running:
            if self._stopping and not forwarded:
                forwarded = True
                accepted, served, errors, _ = self.counters.totals()
                self.log.stopping(accepted - served - errors, self.config.grace)
                for pid in running:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
            with contextlib.suppress(InterruptedError):
                select.select([self._wake_r], [], [], max(0.0, min(1.0, next_summary - time.monotonic())))
            self._drain_wake_pipe()
            while running:
                try:
                    pid, _status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    running.clear()
                    break
                if pid == 0:
                    break
                running.discard(pid)
            if time.monotonic() >= next_summary:
                next_summary += 1.0
                if self.log_mode == "summary":
                    self.summary_line()
        abandoned = self.counters.totals()[3]
        if self.log_mode == "summary":
            self.summary_line()
        self.log.stopped(abandoned)
        self._wake_r.close()
        self._wake_w.close()
        return abandoned

    # --- one loop --------------------------------------------------------------------------------
    def _loop(self, worker: bool = False) -> int:
        config, log = self.config, self.log
        self.reports = ThreadPoolExecutor(max_workers=1, thread_name_prefix="log")
        connections = self.log_mode == "connections"
        summary_here = self.log_mode == "summary" and not worker
        delay, idle_timeout = config.delay, config.idle_timeout
        listener, transport = self.listener, self.transport
        listen_fd, wake_fd = listener.fileno(), self._wake_r.fileno()
        # (fd, address) without a socket object per connection: socket.accept() is this plus the object.
        accept: Callable[[], tuple[int, Any]] = listener._accept  # type: ignore[attr-defined]
        epoll = select.epoll()
        epoll.register(listen_fd, select.EPOLLIN)
        epoll.register(wake_fd, select.EPOLLIN)
        reading: dict[int, int] = {}  # fd -> serial of the connection waiting for its byte
        waiting: deque[tuple[float, int, int]] = deque()  # (due, fd, byte): answers, in deadline order
        idle: deque[tuple[float, int, int]] = deque()  # (due, fd, serial): idle deadlines, in order
        started: dict[int, float] = {}  # fd -> accept time, only when each connection is logged
        peers: dict[int, Any] = {}
        serial = accepted = served = errors = 0
        monotonic, read, write, close, ioctl = time.monotonic, os.read, os.write, os.close, fcntl.ioctl
        register, replies = epoll.register, REPLIES
        listening = True
        grace_deadline = 0.0
        # Out of descriptors: the listener leaves the epoll set until resume_at (core's AcceptPause gives the
        # time and logs once per episode) or until a connection closes and frees a descriptor.
        resume_at = 0.0
        finished_at_pause = 0  # served + errors when the pause began: a change means a descriptor is free
        next_summary = monotonic() + 1.0
        if connections and not worker:
            log.waiting()

        def arrived(fd: int) -> None:
            """The connection's byte is readable: answer now (delay 0) or queue the answer."""
            nonlocal served, errors
            try:
                data = read(fd, 1)
            except OSError as exc:
                errors += 1
                self._closed(fd, "lost", peers, started, reason=exc.strerror or str(exc))
                return
            if not data:
                errors += 1
                self._closed(fd, "empty", peers, started)
                return
            if delay:
                # From this read, not from the turn's ``now``: a turn over 1,024 events takes milliseconds,
                # and a byte read late in it would be answered that much before its delay.
                waiting.append((monotonic() + delay, fd, data[0]))
                return
            try:
                write(fd, replies[data[0]])
                served += 1
                if connections:
                    self._closed(fd, "served", peers, started, byte=data[0])
                else:
                    close(fd)
            except OSError as exc:
                errors += 1
                self._closed(fd, "lost", peers, started, reason=f"{exc.strerror} while answering")

        gc.freeze()  # start-up's objects never need collecting again
        try:
            while True:
                now = monotonic()
                # Drop idle entries of connections that have moved on, so the deque stays short.
                while idle and reading.get(idle[0][1]) != idle[0][2]:
                    idle.popleft()
                due = waiting[0][0] if waiting else now + 3600.0
                if idle and idle[0][0] < due:
                    due = idle[0][0]
                if summary_here and next_summary < due:
                    due = next_summary
                if not listening and grace_deadline < due:
                    due = grace_deadline
                if resume_at and resume_at < due:
                    due = resume_at
                try:
                    events = epoll.poll(max(0.0, due - now), 1024)
                except InterruptedError:
                    events = []
                now = monotonic()
                if resume_at and listening and (now >= resume_at or served + errors != finished_at_pause):
                    resume_at = 0.0
                    epoll.modify(listen_fd, select.EPOLLIN)
                for fd, _mask in events:
                    if fd == listen_fd:
                        for _ in range(ACCEPT_BATCH):
                            try:
                                conn, address = accept()
                            except BlockingIOError:
                                break
                            except OSError as exc:  # EMFILE and friends: keep serving what we have
                                if exc.errno not in OUT_OF_RESOURCES:
                                    log.error(f"accept failed: {exc}")
                                    break
                                pause = self.pause.failed(exc, len(reading) + len(waiting))
                                epoll.modify(listen_fd, 0)
                                resume_at, finished_at_pause = now + pause, served + errors
                                break
                            if self.pause.failures:
                                self.pause.succeeded()
                            serial += 1
                            accepted += 1
                            if connections and (config.log_probes or not transport.is_probe(address)):
                                started[conn] = now
                                peers[conn] = peer = transport.peer(address, serial)
                                log.accepted(peer)
                            if ioctl(conn, FIONREAD, NO_BYTES) != NO_BYTES:
                                arrived(conn)  # its byte is here already: no epoll_ctl, no second wake-up
                            else:
                                reading[conn] = serial
                                idle.append((now + idle_timeout, conn, serial))
                                register(conn, READ_ONCE)
                    elif fd == wake_fd:
                        self._drain_wake_pipe()
                    else:
                        del reading[fd]
                        arrived(fd)
                while waiting and waiting[0][0] <= now:
                    _due, fd, byte = waiting.popleft()
                    try:
                        write(fd, replies[byte])
                        served += 1
                        if connections:
                            self._closed(fd, "served", peers, started, byte=byte)
                        else:
                            close(fd)
                    except OSError as exc:
                        errors += 1
                        self._closed(fd, "lost", peers, started, reason=f"{exc.strerror} while answering")
                while idle and idle[0][0] <= now:
                    _due, fd, number = idle.popleft()
                    if reading.get(fd) == number:
                        del reading[fd]
                        errors += 1
                        self._closed(fd, "idle", peers, started)
                self.counters.store(self.slot, accepted, served, errors)
                if summary_here and now >= next_summary:
                    next_summary += 1.0
                    self.summary_line()
                if self._stopping and listening:
                    listening = False
                    grace_deadline = now + config.grace
                    # What the kernel already queued is accepted and served; then no new connections.
                    epoll.unregister(listen_fd)
                    with contextlib.suppress(OSError):
                        while True:
                            conn, _address = accept()
                            serial += 1
                            accepted += 1
                            reading[conn] = serial
                            idle.append((now + idle_timeout, conn, serial))
                            register(conn, READ_ONCE)
                    with contextlib.suppress(OSError):
                        listener.shutdown(socket.SHUT_RDWR)
                    transport.close(listener, config)  # a Unix socket's file goes too
                    if not worker:  # said once the listener is closed: from here a new connect is refused
                        log.stopping(len(reading) + len(waiting), config.grace)
                if not listening and (not (reading or waiting) or now >= grace_deadline):
                    break
        finally:
            abandoned = len(reading) + len(waiting)
            for fd in [*reading, *(fd for _due, fd, _byte in waiting)]:
                with contextlib.suppress(OSError):
                    close(fd)
            epoll.close()
            self.counters.store(self.slot, accepted, served, errors, abandoned)
        self.reports.shutdown(wait=True)  # every outcome line is out before "stopped"
        if not worker:
            if summary_here:
                self.summary_line()
            log.stopped(abandoned)
            self._wake_r.close()
            self._wake_w.close()
        return abandoned

    def _closed(
        self,
        fd: int,
        event: str,
        peers: dict[int, Any],
        started: dict[int, float],
        *,
        byte: int = 0,
        reason: str = "",
    ) -> None:
        """Close one connection; in the connections log, say what happened to it.

        The line goes through the handler's outcomes and ``report``, on the logger thread: the peer's
        name is looked up there, so a slow reverse lookup never holds the loop (and everyone's timers).
        """
        os.close(fd)
        address = peers.pop(fd, None)
        if address is None:
            return
        began = started.pop(fd)
        outcome: Outcome
        if event == "served":
            outcome = Served(byte, REPLIES[byte][0], time.monotonic() - began)
        elif event == "idle":
            outcome = PeerIdle()
        elif event == "empty":
            outcome = PeerClosedEmpty()
        else:
            outcome = ConnectionLost(reason)
        self.reports.submit(report, outcome, (address[0], address[1]), False, self.config, self.log, self.names)
