"""A lesson's run as the kernel streams of ``--kernel`` tell it, made up event by event: the tests' stand-in for
a real run until the sidecars write them (docs/events.md has the kinds).

``Story(model="serial", clients=9)`` works the lesson out the way Linux does it: every client's SYN at once; a
listener with ``listen(5)`` holds 6 completed connections, a SYN that finds them all waiting is dropped and sent
again 1, 3, 7… s later; the server accepts one connection at a time (serial) or forks a child per connection
(fork), the child reads 'A', sleeps the delay, writes 'B' and closes first (its side goes to TIME_WAIT). From
that it writes what the sidecars would: each socket as ``ss`` sampled it (the server's every 0.1 s, the clients'
every 0.25 s: a state shorter than that is never seen), each segment as captured at both ends, each system call
of the server's processes when it returns, and the lesson's own events (accepted, served, the clients' results).
``story.events`` is in the order the recorder would have written them (``arrives``), each with its own ``t``.
"""

from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from socklab.events.recorder import Recorder
from socklab.events.schema import Kind

SERVER_IP, PORT = "172.30.0.2", 9736
SERVER_SAMPLE, CLIENT_SAMPLE = 0.1, 0.25  # seconds between two looks at a namespace's sockets
RTO = 1.0  # the first SYN retransmission timeout; it doubles


def client_ip(k: int) -> str:
    return f"172.30.{k // 200}.{k % 200 + 10}"


@dataclass(order=True)
class Written:
    arrives: float  # when the recorder writes it (POSIX)
    order: int
    kind: Kind = field(compare=False)
    host: str = field(compare=False)
    t: float = field(compare=False)
    data: dict[str, Any] = field(compare=False)


@dataclass
class Conn:
    k: int
    syns: list[float] = field(default_factory=list)  # every SYN the client sent (the last one got in)
    established: float = 0.0  # the handshake's last ACK reached the server: in the accept queue
    accepted: float = 0.0
    written: float = 0.0  # the server's 'B'

    @property
    def client(self) -> str:
        return f"{client_ip(self.k)}:{40000 + self.k}"

    @property
    def server(self) -> str:
        return f"{SERVER_IP}:{PORT}"


class Story:
    def __init__(
        self, *, model: str = "fork", clients: int = 3, delay: float = 2.0, backlog: int = 5,
        start: float | None = None, attached_late: bool = False, spacing: float = 0.0005, names: bool = False,
        select: bool = False,
    ) -> None:  # fmt: skip
        """``spacing``: seconds between two clients' first SYNs (0.5 ms: all at once, as the start barrier does);
        ``names``: flags as a list of names (``["SYN", "ACK"]``), as older logs write them, not tcpdump's letters;
        ``select``: the server waits for a connection in pselect6 and then accepts at once (socklab's servers do),
        not in a blocking accept."""
        self.model, self.clients, self.delay, self.backlog = model, clients, delay, backlog
        self.t0 = time.time() if start is None else start
        self.attached_late, self.spacing, self.names, self.select = attached_late, spacing, names, select
        self.events: list[Written] = []
        self._order = itertools.count()
        self.pid = 7
        self._pids = itertools.count(self.pid + 1)
        self.conns = {k: Conn(k) for k in range(1, clients + 1)}
        self.listening = self.t0 + 0.003
        self.clients_start = self.t0 + 0.5
        self._lab()
        self._simulate()
        self._sockets()
        self.end = max(c.written for c in self.conns.values()) + 0.5
        self._add(Kind.VERDICT, "", self.end, ok=True, text=f"{clients}/{clients} answered", details=[])
        self._add(Kind.RUN_FINISHED, "", self.end + 0.01, exit_code=0)
        self.events.sort()

    # --- writing ------------------------------------------------------------------------------------
    def _add(self, kind: Kind, host: str, t: float, *, arrives: float | None = None, **data: Any) -> None:
        self.events.append(Written(t if arrives is None else arrives, next(self._order), kind, host, t, data))

    def write(self, recorder: Recorder, *, until: float | None = None, after: float | None = None) -> int:
        """Write the events that arrive in (after, until] (seconds since the start); how many were written."""
        count = 0
        for e in self.events:
            since = e.arrives - self.t0
            if (until is None or since <= until) and (after is None or since > after):
                recorder.emit(e.kind, e.host, t=e.t, **e.data)
                count += 1
        return count

    def renumber(self, host: str, offset: int) -> None:
        """Number ``host``'s own segments, as captured there, from another start (``offset`` more): two capture
        points that disagree on relative sequence numbers still capture the same segments."""
        for e in self.events:
            if e.kind is Kind.PACKET and e.host == host:
                mine = e.data["src"].startswith(f"{SERVER_IP}:") == (host == "server")
                key = "seq" if mine else "ack"
                if e.data[key]:
                    e.data = {**e.data, key: (e.data[key] + offset) % 2**32}

    def play(self, recorder: Recorder) -> None:
        """Write every event when it arrives (its ``arrives``, POSIX): a story that starts in the future is
        written in real time, as the sidecars and the Lab would write it."""
        for e in self.events:
            if (wait := e.arrives - time.time()) > 0:
                time.sleep(wait)  # the run's own pace
            recorder.emit(e.kind, e.host, t=e.t, **e.data)

    def at(self, seconds: float) -> float:
        return self.t0 + seconds

    # --- the lab and the server's start -------------------------------------------------------------
    def _lab(self) -> None:
        t0 = self.t0
        self._add(Kind.RUN_STARTED, "", t0 - 1, command="run", args={"clients": self.clients, "delay": self.delay,
                  "kernel": True}, title="socklab run")  # fmt: skip
        image = f"socklab/server:{self.model}"
        said = f"0.1.0 (tcp, model {self.model}, backlog {self.backlog}, delay {self.delay:g} s)"
        self._add(Kind.CONTAINER_STARTED, "server", t0 - 0.5, role="server", image=image)
        self._add(Kind.HOST, "server", t0 - 0.4, role="server", address=SERVER_IP, image=image, port=PORT,
                  delay=self.delay, version=said)  # fmt: skip
        for k in self.conns:
            self._add(Kind.CONTAINER_STARTED, f"client-{k}", t0 + 0.2, role=f"client-{k}", image="socklab/client")
            self._add(Kind.HOST, f"client-{k}", t0 + 0.3, role=f"client-{k}", address=client_ip(k),
                      image="socklab/client")  # fmt: skip
        if self.attached_late:
            self._call(t0 + 0.2, "attached", "pids 7", None, None, from_start=False)
            return
        self._call(t0 - 0.01, "attached", "pids 7", None, None, from_start=True)
        self._call(t0, "socket", "AF_INET, SOCK_STREAM, IPPROTO_TCP", "3", 0.0001)
        self._call(t0 + 0.001, "bind", f"3, 0.0.0.0:{PORT}", "0", 0.0001)
        self._call(t0 + 0.002, "listen", f"3, {self.backlog}", "0", 0.0001)

    def _call(self, t: float, call: str, args: str, result: str | None, seconds: float | None, *,
              pid: int | None = None, **more: Any) -> None:  # fmt: skip
        """A call as the tracer tells it: a call that blocks (0.1 s or more, or never returning) first when it
        is made (``done`` false), then again when it returns."""
        pid = self.pid if pid is None else pid
        if call != "attached" and (seconds is None or seconds >= 0.1):
            self._add(Kind.SYSCALL, "server", t, arrives=t + 0.01, pid=pid, call=call, args=args, result=None,
                      seconds=None, done=False)  # fmt: skip
        if seconds is not None or call == "attached":
            self._add(Kind.SYSCALL, "server", t, arrives=t + (seconds or 0.0) + 0.01, pid=pid, call=call, args=args,
                      result=result, seconds=seconds, done=True, **more)  # fmt: skip

    def _packet(self, t: float, src: str, dst: str, flags: str, seq: int, ack: int, label: str, *,
                payload: list[int] | None = None, again: bool = False, conn: Conn) -> None:  # fmt: skip
        """One segment, captured as it leaves its sender and as it reaches the other end."""
        sender = "server" if src.startswith(SERVER_IP + ":") else f"client-{conn.k}"
        receiver = f"client-{conn.k}" if sender == "server" else "server"
        written: str | list[str] = flags
        if self.names:
            written = [
                name for name, letter in (("SYN", "S"), ("FIN", "F"), ("RST", "R"), ("ACK", "A")) if letter in flags
            ]
        for host, when in ((sender, t), (receiver, t + 0.00005)):
            self._add(Kind.PACKET, host, when, arrives=when + 0.01, src=src, dst=dst, flags=written, seq=seq, ack=ack,
                      length=len(payload or []), label=label + (" (retransmission)" if again else ""),
                      retransmission=again, payload=payload or [], conn=f"{conn.client}>{conn.server}")  # fmt: skip

    # --- the run: SYNs, the accept queue, the server's calls ----------------------------------------
    def _simulate(self) -> None:
        heap: list[tuple[float, int, str, int]] = []
        for k in self.conns:
            heapq.heappush(heap, (self.clients_start + (k - 1) * self.spacing, k, "syn", 0))
        queue: list[int] = []  # connections holding a place in the accept queue, oldest first
        idle_since: float | None = self.t0 + 0.004  # the main process sits in accept4 from then (None: busy)
        while heap:
            t, k, what, attempt = heapq.heappop(heap)
            if what == "syn":
                conn = self.conns[k]
                conn.syns.append(t)
                full = len(queue) >= self.backlog + 1  # Linux holds backlog + 1; a SYN beyond is dropped
                self._syn(conn, t, attempt, dropped=full)
                if full:
                    heapq.heappush(heap, (t + RTO * 2**attempt, k, "syn", attempt + 1))
                    continue
                conn.established = t + 0.0003
                queue.append(k)
                heapq.heappush(heap, (conn.established, k, "ready", 0))
            elif what == "ready" and idle_since is not None and queue and queue[0] == k:
                back = self._accept(queue.pop(0), t, idle_since)
                idle_since = None
                heapq.heappush(heap, (back, 0, "free", 0))
            elif what == "free":
                if queue and self.conns[queue[0]].established <= t:
                    heapq.heappush(heap, (self._accept(queue.pop(0), t, t), 0, "free", 0))
                else:
                    idle_since = t
        assert idle_since is not None
        self._call(idle_since, "pselect6" if self.select else "accept4", "3", None, None)  # it never returned

    def _syn(self, conn: Conn, t: float, attempt: int, *, dropped: bool) -> None:
        c, s = conn.client, conn.server
        self._packet(t, c, s, "S", 0, 0, "SYN", again=attempt > 0, conn=conn)
        if dropped:
            return
        self._packet(t + 0.0001, s, c, "SA", 0, 1, "SYN-ACK", conn=conn)
        self._packet(t + 0.0002, c, s, "A", 1, 1, "ACK", conn=conn)
        self._packet(t + 0.0004, c, s, "PA", 1, 1, "'A'", payload=[65], conn=conn)
        self._packet(t + 0.0005, s, c, "A", 1, 2, "ACK", conn=conn)

    def _accept(self, k: int, t: float, called: float) -> float:
        """The server takes connection ``k`` at ``t`` (its accept4 began at ``called``); when it is back in
        accept4 (fork: at once; serial: after the whole exchange)."""
        conn = self.conns[k]
        conn.accepted = t + 0.0002
        if self.select:
            self._call(
                called, "pselect6", "4, [3], NULL, NULL, NULL", "1 (in [3])", round(conn.accepted - 3e-5 - called, 6)
            )
            self._call(conn.accepted - 2e-5, "accept", "3", f"4 ({conn.client})", 2e-5)
        else:
            self._call(called, "accept4", "3", f"4 ({conn.client})", round(conn.accepted - called, 6))
        self._add(Kind.ACCEPTED, "server", conn.accepted, arrives=conn.accepted + 0.005, peer=conn.client,
                  version=f"socklab/server:{self.model}")  # fmt: skip
        if self.model == "fork":
            child = next(self._pids)
            fork = conn.accepted + 0.0001
            self._call(fork, "clone", "child_stack=NULL, flags=SIGCHLD", str(child), 0.0004)
            self._call(fork + 0.0005, "close", "4", "0", 0.00001)
            self._exchange(conn, child, fork + 0.0006, listener_closed=True)
            return fork + 0.0007
        end = self._exchange(conn, self.pid, conn.accepted + 0.0001, listener_closed=False)
        return end + 0.0001

    def _exchange(self, conn: Conn, pid: int, t: float, *, listener_closed: bool) -> float:
        """The child's (or the serial server's) part: read 'A', sleep, write 'B', close; returns its end."""
        if listener_closed:
            self._call(t, "close", "3", "0", 0.00001, pid=pid)
            t += 0.0001
        self._call(t, "read", '4, "A", 1', "1", 0.00002, pid=pid)
        self._call(
            t + 0.0001, "clock_nanosleep", f"CLOCK_REALTIME, 0, {{tv_sec={self.delay:g}}}", "0", self.delay, pid=pid
        )
        conn.written = t + 0.0001 + self.delay + 0.0002
        self._call(conn.written, "write", '4, "B", 1', "1", 0.00003, pid=pid)
        self._call(conn.written + 0.0001, "close", "4", "0", 0.00002, pid=pid)
        if pid != self.pid:
            exited = conn.written + 0.0003
            self._add(Kind.SYSCALL, "server", exited, pid=pid, call="exit", args="", result="exited with 0",
                      seconds=None, done=True)  # fmt: skip
        self._closing(conn)
        return conn.written + 0.0002

    def _closing(self, conn: Conn) -> None:
        c, s, w = conn.client, conn.server, conn.written
        self._packet(w, s, c, "PA", 1, 2, "'B'", payload=[66], conn=conn)
        self._packet(w + 0.0001, c, s, "A", 2, 2, "ACK", conn=conn)
        self._packet(w + 0.0002, s, c, "FA", 2, 2, "FIN-ACK", conn=conn)
        self._packet(w + 0.0003, c, s, "A", 2, 3, "ACK", conn=conn)
        self._packet(w + 0.001, c, s, "FA", 2, 3, "FIN-ACK", conn=conn)
        self._packet(w + 0.0011, s, c, "A", 3, 3, "ACK", conn=conn)
        self._add(Kind.SERVED, "server", w, arrives=w + 0.005, peer=c, request=65, reply=66,
                  seconds=round(w - conn.accepted, 6), version=f"socklab/server:{self.model}",
                  accepted_at=conn.accepted)  # fmt: skip
        exited = w + 0.3  # the client's result lines are read when it has exited
        self._add(Kind.CONNECTED, f"client-{conn.k}", conn.established - 0.0001, arrives=exited, peer=s, address=c)
        self._add(Kind.ANSWERED, f"client-{conn.k}", w + 0.0004, arrives=exited, reply=66,
                  seconds=round(w - conn.established, 6), ok=True, address=c, sent=65, attempts=1, outcome="ok",
                  connected_at=conn.established)  # fmt: skip
        self._add(Kind.CONTAINER_STOPPED, f"client-{conn.k}", exited, role=f"client-{conn.k}", exit_code=0)

    # --- what ss saw --------------------------------------------------------------------------------
    def _states(self, conn: Conn) -> tuple[list[tuple[float, str]], list[tuple[float, str]]]:
        """(client side, server side): each socket's true states from the moment it took them."""
        w = conn.written
        client = [(conn.syns[0], "SYN_SENT"), (conn.established - 0.0001, "ESTABLISHED"),
                  (w + 0.0002, "CLOSE_WAIT"), (w + 0.001, "LAST_ACK"), (w + 0.0011, "GONE")]  # fmt: skip
        server = [(conn.syns[-1] + 0.0001, "SYN_RECV"), (conn.established, "ESTABLISHED"),
                  (w + 0.0002, "FIN_WAIT1"), (w + 0.0003, "FIN_WAIT2"), (w + 0.001, "TIME_WAIT")]  # fmt: skip
        return client, server

    def _sockets(self) -> None:
        last = max(c.written for c in self.conns.values()) + 0.4
        for conn in self.conns.values():
            client, server = self._states(conn)
            self._sample(f"client-{conn.k}", conn.client, conn.server, client, conn.syns[0], CLIENT_SAMPLE, last,
                         unread=None)  # fmt: skip
            self._sample("server", conn.server, conn.client, server, self.t0, SERVER_SAMPLE, last,
                         unread=(conn.established, conn.accepted + 0.0004))  # fmt: skip
        self._listener(last)

    def _sample(self, host: str, local: str, peer: str, states: list[tuple[float, str]], first: float,
                every: float, last: float, *, unread: tuple[float, float] | None) -> None:  # fmt: skip
        seen: tuple[str, int] | None = None
        t = first + every / 3
        while t <= last:
            now = [s for when, s in states if when <= t]
            if now:
                state = now[-1]
                recv_q = 1 if unread and unread[0] <= t < unread[1] else 0  # 'A', not read yet
                if (state, recv_q) != seen and not (seen is None and state == "GONE"):
                    self._socket(host, t, f"{local}>{peer}", local, peer, state, recv_q, None)
                    seen = (state, recv_q)
                if state == "GONE":
                    return
            t += every

    def _socket(self, host: str, t: float, key: str, local: str, peer: str | None, state: str, recv_q: int,
                backlog: int | None) -> None:  # fmt: skip
        established = state == "ESTABLISHED"
        self._add(Kind.SOCKET, host, t, arrives=t + 0.02, key=key, local=local, peer=peer, state=state,
                  recv_q=recv_q, send_q=0, backlog=backlog, rtt_ms=0.08 if established else None,
                  cwnd=10 if established else None, retrans=0 if established else None)  # fmt: skip

    def _listener(self, last: float) -> None:
        changes = sorted(
            [(c.established, 1) for c in self.conns.values()] + [(c.accepted, -1) for c in self.conns.values()]
        )
        t, seen = self.t0 + SERVER_SAMPLE / 3, None
        while t <= last:
            length = sum(step for when, step in changes if when <= t)
            if t >= self.listening and length != seen:
                self._socket("server", t, f"0.0.0.0:{PORT}", f"0.0.0.0:{PORT}", "*:*", "LISTEN", length, self.backlog)
                seen = length
            t += SERVER_SAMPLE
