"""``half-close``: 'A', then shutdown(SHUT_WR): the lab's own servers answer on the half that is open.

The lab's fork server and the C original each get two connections from a client host: one sends 'A' and
shuts its sending half (its FIN: "nothing more from me"), then reads; the other sends 'A' and close()s.
While the server sleeps out its delay the kernel is asked, on both hosts, what state each connection is
in (CLOSE_WAIT on the server: it has the client's FIN and has not closed; FIN_WAIT2 on the client); the
half-closed client then reads 'B' and the server's EOF, and holds TIME_WAIT, having closed first. tcpdump
on each server's interface shows both connections; the closed one answers 'B' with RST.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from socklab import wire
from socklab.experiments.capture import capture, ladder, segments, squeeze
from socklab.experiments.record import Result
from socklab.experiments.stage import ProbeFailed, Stage
from socklab.lab.containers import LabContainer
from socklab.progress import Progress, quiet
from socklab.wire.config import ServerConfig

NAME = "half-close"
CLAIM = "after shutdown(SHUT_WR) the client can still read: the server answers on the half that is open"
PORT = 9736
NO_HEALTHCHECK = {"test": ["NONE"]}


def _states(sockets: list[dict[str, Any]], end: str) -> list[str]:
    """The states of the sockets whose local or remote end is ``end`` (ip:port)."""
    return sorted(str(s["state"]) for s in sockets if end in (s["local"], s["remote"]))


def _both(stage: Stage, server: LabContainer, client: LabContainer) -> tuple[list[Any], list[Any]]:
    """The sockets of both hosts' namespaces, read at the same time (from a sidecar beside each)."""
    with ThreadPoolExecutor(2) as pool:
        there = pool.submit(stage.observe, server, "sockets", str(PORT))
        here = pool.submit(stage.observe, client, "sockets")
        return there.result()[0], here.result()[0]


def _one_server(stage: Stage, key: str, image: str, delay: float) -> dict[str, Any]:
    quiet_server = ServerConfig(delay=delay, resolve_names=False).to_env()
    server = stage.start(f"server-{key}", image=image, alias=key, env=quiet_server, healthcheck=NO_HEALTHCHECK)
    stage.wait_for_line(server, r"listening on")
    with capture(stage, server) as dump:
        client = stage.start(f"client-{key}", ["probes.halfclose", "--server", key, "--port", str(PORT)])
        shut = {e["mode"]: e for e in stage.wait_for_events(client, "half_closed", 2)}
        server_during, client_during = _both(stage, server, client)
        looked = time.time()
        done = stage.wait_for_event(client, "done", timeout=delay + 30)
        answered = next(c.get("answered_at", float("inf")) for c in done["connections"] if c["mode"] == "shutdown")
        if looked >= answered:
            raise ProbeFailed(f"{key}: the kernel was asked only after the answer came; the machine is too slow today")
        server_after, client_after = _both(stage, server, client)
        client.signal("SIGUSR1")
        counters = stage.wait_for_event(client, "counters")["counters"]
    served = {f"{r.peer.address}:{r.peer.port}": r for r in wire.parse_served_log(server.logs())}
    found = segments(dump, PORT)
    connections = {}
    for record in done["connections"]:
        end = record["local"]
        connections[record["mode"]] = {
            **{k: v for k, v in record.items() if k not in ("mode", "answered_at")},
            "server_state_while_it_waits": _states(server_during, end),
            "client_state_while_it_waits": _states(client_during, end),
            "server_state_after": _states(server_after, end),
            "client_state_after": _states(client_after, end),
            "server_logged_served": end in served,
            "wire": squeeze(ladder(found, end)),
        }
    connections["shutdown"]["client_state_after_shutdown"] = shut["shutdown"]["state"]
    return {"image": image, "connections": connections, "client_counters": counters}


def differences(servers: dict[str, dict[str, Any]]) -> list[str]:
    found = []
    for key, found_there in servers.items():
        half = found_there["connections"]["shutdown"]
        if half.get("answer") != "B":
            found.append(f"{key}: the half-closed client got {half.get('answer') or half.get('error')!r}, not 'B'")
        elif not half.get("eof_after_answer"):
            found.append(f"{key}: no EOF after the answer to the half-closed client")
        if half["server_state_while_it_waits"] != ["CLOSE_WAIT"]:
            found.append(
                f"{key}: the server's end of a half-closed connection was {half['server_state_while_it_waits']}"
            )
    return found


def run(
    *,
    probes_image: str,
    server_image: str = "socklab/server:fork",
    c_server_image: str = "socklab/server:c-fork",
    delay: float = 5.0,
    progress: Progress = quiet,
    **_: Any,
) -> Result:
    result = Result(NAME, CLAIM)
    started = time.monotonic()
    images = {"server": server_image, "c-server": c_server_image}
    result.did += [
        f"the lab's servers {server_image} and {c_server_image}, answering after {delay:g} s",
        "a client host per server opens two connections: 'A' then shutdown(SHUT_WR), then read; 'A' then close()",
        "while the server waits: the connections' states from the kernel on both hosts (a sidecar in each "
        "network namespace), and the client's own TCP_INFO after shutdown; after the answer: the states again, "
        "the server's log, and tcpdump on the server's interface",
    ]
    with Stage(NAME, probes_image=probes_image, progress=progress) as stage, ThreadPoolExecutor(len(images)) as pool:
        found = dict(zip(images, pool.map(lambda k: _one_server(stage, k, images[k], delay), images), strict=True))
    result.numbers = {"delay": delay, "servers": found}
    result.observed += _describe(found)
    result.differences += differences(found)
    result.seconds = time.monotonic() - started
    return result


def _describe(servers: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for key, there in servers.items():
        half, closed = there["connections"]["shutdown"], there["connections"]["close"]
        lines += [
            f"{key} ({there['image']}):",
            f"  shutdown(SHUT_WR): client {half['client_state_after_shutdown']}, server "
            f"{'/'.join(half['server_state_while_it_waits']) or '-'} while it waited; the client read "
            f"{half.get('answer')!r} then EOF: {half.get('eof_after_answer')}; afterwards the client holds "
            f"{'/'.join(half['client_state_after']) or 'nothing'}, the server "
            f"{'/'.join(half['server_state_after']) or 'nothing'}",
            f"    wire: {' '.join(half['wire'])}",
            f"  close(): client {'/'.join(closed['client_state_while_it_waits']) or '-'} (no process holds it), "
            f"server {'/'.join(closed['server_state_while_it_waits']) or '-'} while it waited; its answer met "
            f"{'RST' if any('RST' in s for s in closed['wire']) else 'no RST'} (RSTs the client's namespace sent: "
            f"{there['client_counters'].get('OutRsts')}, Tcp OutRsts); the server logged it served: "
            f"{closed['server_logged_served']}",
            f"    wire: {' '.join(closed['wire'])}",
        ]
    return lines
