"""Every TCP socket of a network namespace, from the kernel's INET_DIAG (pyroute2), and what changed since.

The one reader of a namespace's sockets: the observer samples with it (``Sampler``, ``Changes``), the
experiments and the fault agent read one sample (``python3 -m observer.sockets``). Nothing parses
``/proc/net/tcp``: netlink gives the same table with the listener's backlog and each connection's tcp_info.

What a socket is, as the event log writes it (``Row.fields``):

- ``key``: stable within the namespace: ``local`` for a listener (``0.0.0.0:9736``, ``#2`` on for a second
  one on the same address, SO_REUSEPORT), ``local>peer`` for a connection;
- ``state``: the TCP state by name (``LISTEN``, ``SYN_RECV``, ``ESTABLISHED``…; ``GONE`` once it vanished);
- ``recv_q``, ``send_q``: bytes queued; for a listener ``recv_q`` is its accept queue and ``backlog`` its
  limit (INET_DIAG reports the queue's limit where a connection reports its send queue);
- ``rtt_ms``, ``cwnd``, ``retrans`` from tcp_info, for connected sockets (None for listeners, TIME_WAIT and
  half-open request sockets, which have none);
- ``conn``: ``client>server`` for a connection (the side on a listening port is the server), as the
  packets name it, so a socket, its packets and the server's system calls on it line up.

Run inside a namespace (``--samples``, ``--interval``): one JSON line a sample, ``{"at": …, "value": [rows]}``.
"""

from __future__ import annotations

import argparse
import json
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

__all__ = ["STATES", "Changes", "Row", "Sampler", "names_of", "raw_of", "rows_of"]

STATES = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT", 7: "CLOSE",
    8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING", 12: "SYN_RECV",  # 12: a request socket
}  # fmt: skip
GONE = "GONE"
ALL_STATES = 0xFFF  # every state but NEW_SYN_RECV's own bit, which the kernel reports as SYN_RECV anyway
LISTEN_ONLY = 1 << 10  # a dump of listeners alone skips the walk of the machine-wide established table
INFO = 1 << (2 - 1)  # idiag_ext bit of INET_DIAG_INFO (tcp_info)
NO_INFO_STATES = ("LISTEN", "TIME_WAIT", "SYN_RECV")
RTT_CHANGE = 0.25  # an rtt that moved by more than this share of the last one reported is a change


def _endpoint(family: int, address: str, port: int) -> str:
    return f"[{address}]:{port}" if family == socket.AF_INET6 else f"{address}:{port}"


@dataclass(frozen=True)
class Row:
    """One socket as the log writes it (see the module's docstring)."""

    key: str
    local: str
    peer: str | None
    state: str
    recv_q: int
    send_q: int | None
    backlog: int | None
    rtt_ms: float | None
    cwnd: int | None
    retrans: int | None
    conn: str | None

    def fields(self) -> dict[str, Any]:
        return asdict(self)

    def differs(self, before: Row) -> bool:
        """A change worth an event: state, queues, cwnd or retransmissions, or the rtt by more than a quarter."""
        if (self.state, self.recv_q, self.send_q, self.backlog, self.cwnd, self.retrans) != (
            before.state,
            before.recv_q,
            before.send_q,
            before.backlog,
            before.cwnd,
            before.retrans,
        ):
            return True
        if self.rtt_ms is None or before.rtt_ms is None:
            return self.rtt_ms != before.rtt_ms
        return abs(self.rtt_ms - before.rtt_ms) > RTT_CHANGE * max(before.rtt_ms, 0.1)


def raw_of(message: Any) -> dict[str, Any]:
    """The fields of one pyroute2 ``inet_diag_msg`` this module reads, as plain data (what tests replay)."""
    info = message.get_attr("INET_DIAG_INFO")
    return {
        "family": message["idiag_family"],
        "state": message["idiag_state"],
        "src": message["idiag_src"],
        "sport": message["idiag_sport"],
        "dst": message["idiag_dst"],
        "dport": message["idiag_dport"],
        "rqueue": message["idiag_rqueue"],
        "wqueue": message["idiag_wqueue"],
        "cookie": message["idiag_cookie"],
        "inode": message["idiag_inode"],
        "info": None
        if info is None
        else {"rtt_us": info["tcpi_rtt"], "cwnd": info["tcpi_snd_cwnd"], "retrans": info["tcpi_total_retrans"]},
    }


def rows_of(raws: Iterable[Mapping[str, Any]]) -> list[Row]:
    """Rows of one sample, listeners first, in a stable order (a second listener on one address gets ``#2``)."""
    return [row for _raw, row in _keyed(raws)]


def names_of(raws: Iterable[Mapping[str, Any]]) -> dict[int, str]:
    """Each socket's key by its inode (0, as for TIME_WAIT and request sockets, is no inode): the name the
    tracer gives a socket strace knows by inode."""
    return {int(raw["inode"]): row.key for raw, row in _keyed(raws) if raw.get("inode")}


def _keyed(raws: Iterable[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Row]]:
    ordered = sorted(raws, key=lambda r: (r["state"] != 10, r["sport"], r["cookie"]))
    listening = {r["sport"] for r in ordered if r["state"] == 10}
    keyed: list[tuple[Mapping[str, Any], Row]] = []
    seen: dict[str, int] = {}
    for raw in ordered:
        row = _row(raw, listening)
        seen[row.key] = seen.get(row.key, 0) + 1
        if seen[row.key] > 1:
            row = replace(row, key=f"{row.key}#{seen[row.key]}")
        keyed.append((raw, row))
    return keyed


def _row(raw: Mapping[str, Any], listening: set[int]) -> Row:
    family = int(raw["family"])
    state = STATES.get(int(raw["state"]), str(raw["state"]))
    local = _endpoint(family, raw["src"], int(raw["sport"]))
    if state == "LISTEN":
        return Row(local, local, None, state, int(raw["rqueue"]), None, int(raw["wqueue"]), None, None, None, None)
    peer = _endpoint(family, raw["dst"], int(raw["dport"]))
    info = raw.get("info") if state not in NO_INFO_STATES else None
    server_side = int(raw["sport"]) in listening
    return Row(
        key=f"{local}>{peer}",
        local=local,
        peer=peer,
        state=state,
        recv_q=int(raw["rqueue"]),
        send_q=int(raw["wqueue"]),
        backlog=None,
        rtt_ms=None if not info else round(info["rtt_us"] / 1000, 3),
        cwnd=None if not info else int(info["cwnd"]),
        retrans=None if not info else int(info["retrans"]),
        conn=f"{peer}>{local}" if server_side else f"{local}>{peer}",
    )


class Changes:
    """The rows worth an event since the last call: new or changed sockets, and the vanished ones as ``GONE``."""

    def __init__(self) -> None:
        self.reported: dict[str, Row] = {}

    def update(self, rows: Sequence[Row]) -> list[Row]:
        changed = []
        now = {row.key: row for row in rows}
        for key, row in now.items():
            before = self.reported.get(key)
            if before is None or row.differs(before):
                changed.append(row)
                self.reported[key] = row
        for key in [key for key in self.reported if key not in now]:
            gone = self.reported.pop(key)
            changed.append(replace(gone, state=GONE, recv_q=0, send_q=None if gone.send_q is None else 0))
        return changed


def _has_ipv6() -> bool:
    """Whether this thread's namespace has an IPv6 address beyond loopback and link-local ones."""
    try:
        with open("/proc/thread-self/net/if_inet6") as lines:
            # columns: address, ifindex, prefix, scope (0x00 global), flags, name
            return any(line.split()[3] == "00" and line.split()[5] != "lo" for line in lines)
    except OSError:
        return False


class Sampler:
    """INET_DIAG of the namespace the calling thread is in when it is made: the netlink socket stays bound
    to it. ``sample()`` is a dump of IPv4 (and IPv6 where the namespace has it, or has an IPv6 listener).

    A dump of every state walks the machine-wide established hash (262,144 buckets here, ~1.3 ms of kernel
    time whatever the namespace holds), so IPv6 is dumped in full only where it is used.
    """

    def __init__(self) -> None:
        from pyroute2.netlink.diag import DiagSocket  # the tools image's Debian pyroute2; a namespace package

        self.diag = DiagSocket()
        self.diag.bind()
        self.ipv6 = _has_ipv6()

    def raw(self) -> list[dict[str, Any]]:
        """One dump, as plain rows (``raw_of``)."""
        messages = list(self.diag.get_sock_stats(family=socket.AF_INET, states=ALL_STATES, extensions=INFO))
        states = ALL_STATES if self.ipv6 else LISTEN_ONLY
        six = list(self.diag.get_sock_stats(family=socket.AF_INET6, states=states, extensions=INFO))
        if six and not self.ipv6:  # an IPv6 listener: its connections are IPv6 sockets too, from now on
            self.ipv6 = True
            six = list(self.diag.get_sock_stats(family=socket.AF_INET6, states=ALL_STATES, extensions=INFO))
        return [raw_of(m) for m in messages + six]

    def sample(self) -> list[Row]:
        return rows_of(self.raw())

    def close(self) -> None:
        self.diag.close()


def accepted(row: Row) -> bool:
    """Nothing of this socket waits for the server's accept(): not a listener with a queue, not a half-done
    handshake (a SYN_RECV whose last ACK a full queue dropped joins the queue when it comes again)."""
    return not (row.state == "LISTEN" and row.recv_q) and row.state != "SYN_RECV"


def _on_port(rows: Sequence[Row], port: int | None) -> list[Row]:
    return [r for r in rows if port is None or r.local.rsplit(":", 1)[1] == str(port)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m observer.sockets", description="this namespace's TCP sockets")
    parser.add_argument("port", nargs="?", type=int, help="only sockets on this local port")
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--until-only", default="", help="sample until every socket is in one of these states")
    parser.add_argument(
        "--until-accepted",
        action="store_true",
        help="sample until the listener's accept queue is empty and no handshake is half done (SYN_RECV)",
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="with --until-*: give up after this long")
    parser.add_argument("--raw", action="store_true", help="the kernel's rows as read (for test samples)")
    args = parser.parse_args(argv)
    sampler = Sampler()
    if args.until_only or args.until_accepted:
        wanted = set(args.until_only.split(","))
        deadline = time.monotonic() + args.timeout
        while True:
            rows = _on_port(sampler.sample(), args.port)
            settled = all(accepted(r) for r in rows) if args.until_accepted else all(r.state in wanted for r in rows)
            if settled or time.monotonic() > deadline:
                print(json.dumps({"at": time.time(), "value": [r.fields() for r in rows], "settled": settled}))
                return 0
            time.sleep(0.05)
    for index in range(args.samples):
        if index:
            time.sleep(args.interval)
        value: list[Any] = sampler.raw() if args.raw else [r.fields() for r in _on_port(sampler.sample(), args.port)]
        print(json.dumps({"at": time.time(), "value": value}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
