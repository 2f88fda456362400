"""``backlog``: a server that listens with backlog B and does not accept; K clients arrive at once.

The lesson: the backlog bounds the queue of connections waiting for accept(), "later connections are
refused". Linux: B + 1 handshakes complete (the queue is full only when it holds *more* than B); a SYN
that meets a full queue is dropped, not refused (``ListenOverflows``/``ListenDrops`` count it), the client
retries it, and connects once accept() resumes. Variants, each on its own server container with its own
network namespace: the defaults, ``tcp_abort_on_overflow=1`` (a handshake that completes into a full queue
is answered with RST: the only way "refused" happens) and SYN cookies off / always.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from socklab.experiments.plots import ClientBar, draw_client_timelines
from socklab.experiments.record import Result
from socklab.experiments.stage import Stage
from socklab.lab.containers import LabContainer
from socklab.lab.sidecar import run_in_namespace, tools_image
from socklab.progress import Progress, quiet

NAME = "backlog"
CLAIM = "listen()'s backlog bounds the queue of connections not yet accepted; later connections are refused"
PORT = 9736


@dataclass(frozen=True)
class Variant:
    name: str
    sysctls: dict[str, str]
    meaning: str
    slow_link: bool = False


ABORT = {"net.ipv4.tcp_abort_on_overflow": "1"}
NO_COOKIES = {"net.ipv4.tcp_syncookies": "0"}
# On a bridge a handshake completes inside the client's connect() call, so K clients' handshakes never
# overlap and every SYN after the first B + 1 meets a full queue. Across a real network they do overlap:
# SYN-ACKs are in flight while more SYNs arrive. A slow link (tbf: 8 kbit/s, so each SYN-ACK leaves about
# 70 ms after the previous one) makes that happen here, and with it the cases the sysctls are about.
SLOW_LINK = ("tc", "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", "8kbit", "burst", "200", "latency", "60s")
VARIANTS = (
    Variant("default", {}, "the namespace's defaults (SYN cookies when the SYN queue overflows)"),
    Variant("abort_on_overflow", ABORT, "tcp_abort_on_overflow=1: reset what overflows"),
    Variant("syncookies_off", NO_COOKIES, "tcp_syncookies=0"),
    Variant("slow_link", {}, "defaults, handshakes overlapping on a slow link", slow_link=True),
    Variant("slow_link_abort", ABORT, "tcp_abort_on_overflow=1, slow link", slow_link=True),
    Variant("slow_link_no_cookies", NO_COOKIES, "tcp_syncookies=0, slow link", slow_link=True),
)


def _start_server(stage: Stage, variant: Variant, backlog: int) -> LabContainer:
    server = stage.start(
        f"server-{variant.name}",
        ["probes.server", "--port", str(PORT), "--backlog", str(backlog), "--hold"],
        alias=variant.name,
        sysctls=variant.sysctls,
    )
    stage.wait_for_event(server, "listening")
    return server


def _start_clients(stage: Stage, variant: Variant, clients: int) -> LabContainer:
    command = ["probes.burst", "--server", variant.name, "--port", str(PORT), "--count", str(clients)]
    return stage.start(f"clients-{variant.name}", [*command, "--timeout", "60"])


def _listen_queue(stage: Stage, server: LabContainer) -> tuple[int, int]:
    """(accept queue, half-open) of the listener: its Recv-Q (``ss -lnt``'s), and the SYN_RECV request socks."""
    sockets = stage.observe(server, "sockets", str(PORT))[0]
    listening = next(s for s in sockets if s["state"] == "LISTEN")
    return listening["recv_q"], sum(s["state"] == "SYN_RECV" for s in sockets)


def _tcp_ext(stage: Stage, server: LabContainer) -> dict[str, int]:
    counters: dict[str, int] = stage.kernel(server, "counters")[0]["TcpExt"]
    return counters


COUNTERS = ("ListenOverflows", "ListenDrops", "TCPReqQFullDoCookies", "TCPReqQFullDrop", "SyncookiesSent")


def run(
    *,
    probes_image: str,
    backlog: int = 2,
    clients: int = 8,
    hold: float = 3.0,
    variants: Sequence[Variant] = VARIANTS,
    plot_dir: Path | None = None,
    progress: Progress = quiet,
    **_: Any,  # the lab images, which this experiment does not use
) -> Result:
    result = Result(NAME, CLAIM)
    started = time.monotonic()
    result.did += [
        f"{len(variants)} server hosts listen on {PORT} with backlog {backlog} and do not call accept(): "
        + ", ".join(f"{v.name} ({v.meaning})" for v in variants),
        f"a client host per server opens {clients} connections at once (non-blocking connects, one burst)",
        "slow link: the server's outgoing traffic shaped to 8 kbit/s (tc tbf, from a tools sidecar), so that "
        "handshakes overlap as they do across a real network",
        f"{hold:g} s later the listener's queue is read from netlink INET_DIAG (ss -lnt's Recv-Q, from a tools "
        "sidecar), the counters from /proc/net/netstat; then the servers start accepting (SIGUSR1) and answer "
        "each byte + 1",
    ]
    # In parallel: dockerd starts a few containers a second here, the variants should see their bursts at
    # about the same time, and each reading is a `docker exec` of its own.
    names = [v.name for v in variants]
    with Stage(NAME, probes_image=probes_image, progress=progress) as stage, ThreadPoolExecutor(len(variants)) as pool:

        def each(action: Callable[[Any], Any], items: Iterable[Any]) -> dict[str, Any]:
            return dict(zip(names, pool.map(action, items), strict=True))

        servers = each(lambda v: _start_server(stage, v, backlog), variants)
        slow = [servers[v.name] for v in variants if v.slow_link]
        tools = tools_image(stage.docker, progress) if slow else ""
        shape = partial(run_in_namespace, stage.lab, image=tools)
        list(pool.map(lambda target: shape(target, list(SLOW_LINK)), slow))
        settings = each(lambda server: stage.kernel(server, "sysctls")[0], servers.values())
        before = each(lambda server: _tcp_ext(stage, server), servers.values())
        crowd = each(lambda v: _start_clients(stage, v, clients), variants)
        bursts = each(lambda c: stage.wait_for_event(c, "all_connects_called")["at"], crowd.values())
        # The experiment's "for a while": nobody accepts for `hold` seconds after the last burst.
        time.sleep(max(0.0, max(bursts.values()) + hold - time.time()))
        queues = each(lambda server: _listen_queue(stage, server), servers.values())
        during = each(lambda server: _tcp_ext(stage, server), servers.values())
        for server in servers.values():
            server.signal("SIGUSR1")
        resumed = each(lambda s: stage.wait_for_event(s, "accept_resumed")["at"], servers.values())
        done = each(lambda c: stage.wait_for_event(c, "done", timeout=90)["clients"], crowd.values())
        after = each(lambda server: _tcp_ext(stage, server), servers.values())

    found = []
    for v in variants:
        records, resume = done[v.name], resumed[v.name]
        t0 = min(r["started_at"] for r in records)
        outcomes = {o: sum(r["outcome"] == o for r in records) for o in sorted({r["outcome"] for r in records})}
        connects = [r["connected_at"] for r in records if r["connected_at"] is not None]
        late = [at - t0 for at in connects if at >= resume]
        connected_before = len(connects) - len(late)
        found.append(
            {
                "variant": v.name,
                "sysctls": settings[v.name],
                "completed": queues[v.name][0],
                "half_open": queues[v.name][1],
                "listen_overflows": during[v.name]["ListenOverflows"] - before[v.name]["ListenOverflows"],
                "listen_drops": during[v.name]["ListenDrops"] - before[v.name]["ListenDrops"],
                "counters_after": {k: after[v.name].get(k, 0) - before[v.name].get(k, 0) for k in COUNTERS},
                "connected_before_accept": connected_before,
                "connected_after_accept": len(late),
                "first_late_connect_s": round(min(late), 3) if late else None,
                "accept_resumed_s": round(resume - t0, 3),
                "outcomes": outcomes,
                "refused": outcomes.get("refused", 0),
                "reset": outcomes.get("reset", 0),
                "clients": [
                    {
                        "client": r["client"],
                        "outcome": r["outcome"],
                        "connected_s": None if r["connected_at"] is None else round(r["connected_at"] - t0, 3),
                        "ended_s": round((r.get("answered_at") or r.get("failed_at") or t0) - t0, 3),
                    }
                    for r in records
                ],
            }
        )
    default = found[0]
    result.numbers = {
        "backlog": backlog,
        "clients": clients,
        "hold_seconds": hold,
        "completed": default["completed"],
        "listen_overflows": default["listen_overflows"],
        "listen_drops": default["listen_drops"],
        "refused": default["refused"],
        "variants": found,
    }
    result.observed += _describe(found, backlog, clients)
    result.differences += _differences(found, backlog)
    if plot_dir is not None:
        result.files.append(str(_plot(found, plot_dir, backlog)))
    result.seconds = time.monotonic() - started
    return result


def _variant(found: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(v for v in found if v["variant"] == name)


def _describe(variants: list[dict[str, Any]], backlog: int, clients: int) -> list[str]:
    lines = [
        f"{'variant':<21} {'completed':>9} {'half-open':>9} {'overflows':>9} {'drops':>6}  "
        f"{'connected before/after accept':>29}  outcomes",
    ]
    for v in variants:
        lines.append(
            f"{v['variant']:<21} {v['completed']:>9} {v['half_open']:>9} {v['listen_overflows']:>9} "
            f"{v['listen_drops']:>6}  {v['connected_before_accept']:>14}/{v['connected_after_accept']:<14}  "
            + ", ".join(f"{n} {o}" for o, n in v["outcomes"].items())
        )
    d = variants[0]
    linear = d["sysctls"].get("net.ipv4.tcp_syn_linear_timeouts")
    lines += [
        f"backlog {backlog}: the kernel completed {d['completed']} handshakes that nobody accepted "
        f"(Recv-Q of the listener); {clients - d['connected_before_accept']} of {clients} clients were still "
        f"in connect() when accept() resumed at {d['accept_resumed_s']:.1f} s",
        f"their SYNs were dropped, not refused: ListenOverflows {d['listen_overflows']}, ListenDrops "
        f"{d['listen_drops']} while the queue was full; the first of them connected at "
        f"{d['first_late_connect_s']} s, on a SYN retry"
        + (f" (tcp_syn_linear_timeouts={linear}: the first retries come 1 s apart)" if linear else ""),
    ]
    names = {v["variant"] for v in variants}
    if {"slow_link", "slow_link_abort", "slow_link_no_cookies"} <= names:
        slow, abort, plain = (_variant(variants, n) for n in ("slow_link", "slow_link_abort", "slow_link_no_cookies"))
        lines += [
            f"slow link: connect() returned for {slow['connected_before_accept']} clients while the queue held "
            f"{slow['completed']}: the others' last handshake ACK met a full queue and was dropped (the client "
            f"cannot tell); SYN cookies sent {slow['counters_after']['TCPReqQFullDoCookies']}",
            f"slow link + tcp_abort_on_overflow=1: {abort['reset']} of {clients} clients were reset, after their "
            "connect() had returned",
            f"slow link + tcp_syncookies=0: SYNs dropped for a full SYN queue "
            f"{plain['counters_after']['TCPReqQFullDrop']}; connected before accept() "
            f"{plain['connected_before_accept']}",
        ]
    return lines


def _differences(variants: list[dict[str, Any]], backlog: int) -> list[str]:
    found = []
    d = variants[0]
    if d["completed"] != backlog:
        found.append(f"backlog {backlog} held {d['completed']} completed connections")
    if d["refused"] == 0 and d["listen_drops"] > 0:
        found.append("later connections were not refused: their SYNs were dropped and retried")
    aborting = [v for v in variants if v["variant"] in ("abort_on_overflow", "slow_link_abort")]
    resets = sum(v["reset"] + v["refused"] for v in aborting)
    if aborting and resets:
        found.append(
            f"a refusal happened only with tcp_abort_on_overflow=1 and overlapping handshakes, as a reset "
            f"after connect() had returned ({resets} clients)"
        )
    elif aborting:
        found.append("even with tcp_abort_on_overflow=1 no client was reset")
    return found


def _plot(variants: list[dict[str, Any]], plot_dir: Path, backlog: int) -> Path:
    panels = {
        v["variant"]: (
            [
                ClientBar(f"client {c['client']}", 0.0, c["connected_s"], c["ended_s"], c["outcome"])
                for c in sorted(v["clients"], key=lambda c: c["client"])
            ],
            v["accept_resumed_s"],
        )
        for v in variants
    }
    return draw_client_timelines(
        panels, plot_dir / "backlog-timeline.png", title=f"backlog {backlog}: clients from connect() to answer"
    )
