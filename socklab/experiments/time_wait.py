"""``time-wait``: who holds TIME_WAIT; a server restarted at once on its host, with and without SO_REUSEADDR.

Hosts are containers that hold a network namespace (``probes.idle``); the programs run beside them, one
process after another on the same host, as a restarted server would. A one-connection server answers a
client and closes first (as the lesson's server does), then exits; the kernel is asked, on both hosts,
which sockets remain. The same with the client closing first. Then a new server process binds the same
port at once, without and with SO_REUSEADDR; on one host the first server had set SO_REUSEADDR, on another
it had not (the TIME_WAIT connection keeps the setting of the listener it came from).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from socklab.experiments.record import Result
from socklab.experiments.stage import ProbeFailed, Stage
from socklab.lab.containers import LabContainer
from socklab.progress import Progress, quiet

NAME = "time-wait"
CLAIM = (
    "the side that closes first holds TIME_WAIT; a server restarted at once without SO_REUSEADDR fails to "
    "bind ('Address already in use'), with it binds"
)
PORT = 9736
CLIENT_FIRST_PORT = 9737
FIRST_SERVERS = {"reuse": True, "plain": False}  # host -> whether its first server set SO_REUSEADDR


def _flag(reuse: bool) -> list[str]:
    return ["--reuseaddr"] if reuse else []


def _exchange(stage: Stage, host: LabContainer, client_host: LabContainer, port: int, reuse: bool, closer: str) -> str:
    """One server process on ``host`` answers one client from ``client_host`` and exits; the client's end."""
    role = f"{host.node.role}-{port}"
    serve = ["probes.rebind", "serve", "--port", str(port), *_flag(reuse), "--closer", closer]
    server = stage.start(f"first-{role}", serve, beside=host)
    stage.wait_for_event(server, "listening")
    call = ["probes.rebind", "call", "--server", host.node.aliases[0], "--port", str(port), "--closer", closer]
    called = stage.run_once(f"call-{role}", call, beside=client_host)
    done = [e for e in stage.events_of(called.stdout) if e.get("event") == "done"]
    (ran,) = stage.lab.collect([server], timeout=30)
    if called.exit_code or ran.exit_code or not done or done[0]["received"] != "B":
        raise ProbeFailed(f"the exchange on {role} failed: {called.stdout}{called.stderr}{ran.stdout}{ran.stderr}")
    return str(done[0]["local"])


def _left(stage: Stage, host: LabContainer, end: str) -> list[str]:
    """The states of the sockets the kernel of ``host`` still has for the connection of ``end``."""
    return sorted(s["state"] for s in stage.observe(host, "sockets")[0] if end in (s["local"], s["remote"]))


def _restart(stage: Stage, host: LabContainer, reuse: bool) -> dict[str, Any]:
    """A new server process on ``host`` binds the port; what bind() said."""
    command = ["probes.rebind", "serve", "--port", str(PORT), *_flag(reuse), "--connections", "0"]
    tried = stage.run_once(f"restart-{host.node.role}-{'reuse' if reuse else 'plain'}", command, beside=host)
    bind = next(e for e in stage.events_of(tried.stdout) if e.get("event") == "bind")
    return {"bound": bind["ok"], "errno": bind.get("errno"), "error": bind.get("error"), "at": bind["at"]}


def _server_closes_first(
    stage: Stage, hosts: dict[str, LabContainer], client: LabContainer, name: str
) -> dict[str, Any]:
    end = _exchange(stage, hosts[name], client, PORT, FIRST_SERVERS[name], "server")
    closed = time.time()
    found: dict[str, Any] = {"server_left": _left(stage, hosts[name], end), "client_left": _left(stage, client, end)}
    found["restart_without"] = _restart(stage, hosts[name], reuse=False)
    found["restart_with"] = _restart(stage, hosts[name], reuse=True)
    found["restarted_after_s"] = round(found["restart_without"]["at"] - closed, 2)
    return found


def _client_closes_first(stage: Stage, host: LabContainer, client: LabContainer) -> dict[str, Any]:
    end = _exchange(stage, host, client, CLIENT_FIRST_PORT, True, "client")
    return {"server_left": _left(stage, host, end), "client_left": _left(stage, client, end)}


def differences(n: dict[str, Any]) -> list[str]:
    found = []
    server_first, client_first = n["server_closes_first"]["reuse"], n["client_closes_first"]
    if "TIME_WAIT" not in server_first["server_left"] or "TIME_WAIT" in server_first["client_left"]:
        found.append(f"the server closed first, yet TIME_WAIT was: {_who(server_first)}")
    if "TIME_WAIT" not in client_first["client_left"] or "TIME_WAIT" in client_first["server_left"]:
        found.append(f"the client closed first, yet TIME_WAIT was: {_who(client_first)}")
    both = n["server_closes_first"]["reuse"]
    if both["restart_without"]["bound"]:
        found.append("a server restarted at once without SO_REUSEADDR could bind")
    if not both["restart_with"]["bound"]:
        found.append(f"a server restarted with SO_REUSEADDR could not bind: {both['restart_with']['error']}")
    plain = n["server_closes_first"].get("plain")
    if plain and not plain["restart_with"]["bound"]:
        found.append(
            "SO_REUSEADDR on the restarted server is not enough: after a server that had not set it, bind() "
            f"still failed ({plain['restart_with']['errno']}), as its connections in TIME_WAIT keep their "
            "listener's setting"
        )
    return found


def _who(found: dict[str, Any]) -> str:
    return f"server {'/'.join(found['server_left']) or 'nothing'}, client {'/'.join(found['client_left']) or 'nothing'}"


def run(*, probes_image: str, progress: Progress = quiet, **_: Any) -> Result:
    result = Result(NAME, CLAIM)
    started = time.monotonic()
    result.did += [
        "two server hosts and a client host (containers holding their network namespaces); every program runs "
        "as a process of its own beside them",
        f"a server binds {PORT} (on one host with SO_REUSEADDR, on the other without), answers one client, "
        "closes first and exits; the sockets left on both hosts are read from the kernel (probes.kernel in a "
        "sidecar in each namespace)",
        f"the same with the client closing first (port {CLIENT_FIRST_PORT})",
        f"at once, a new server process binds {PORT} on the same host: without SO_REUSEADDR, then with it",
    ]
    with Stage(NAME, probes_image=probes_image, progress=progress) as stage, ThreadPoolExecutor(3) as pool:
        idle = ["probes.idle"]
        hosts = {name: stage.start(f"host-{name}", idle, alias=f"host-{name}") for name in FIRST_SERVERS}
        client = stage.start("host-client", idle)
        for host in [*hosts.values(), client]:
            stage.wait_for_event(host, "idle")
        firsts = {name: pool.submit(_server_closes_first, stage, hosts, client, name) for name in FIRST_SERVERS}
        reverse = pool.submit(_client_closes_first, stage, hosts["reuse"], client)
        result.numbers = {
            "port": PORT,
            "server_closes_first": {name: future.result() for name, future in firsts.items()},
            "client_closes_first": reverse.result(),
        }
    result.observed += _describe(result.numbers)
    result.differences += differences(result.numbers)
    result.seconds = time.monotonic() - started
    return result


def _describe(n: dict[str, Any]) -> list[str]:
    lines = [
        f"server closed first: {_who(n['server_closes_first']['reuse'])}",
        f"client closed first: {_who(n['client_closes_first'])}",
        f"{'the first server':<26} {'restarted without SO_REUSEADDR':<38} restarted with it",
    ]
    for name, found in n["server_closes_first"].items():
        said = [
            "bound" if r["bound"] else f"{r['errno']} ({r['error']})"
            for r in (found["restart_without"], found["restart_with"])
        ]
        first = "set SO_REUSEADDR" if FIRST_SERVERS[name] else "did not set it"
        lines.append(f"{first:<26} {said[0]:<38} {said[1]}   ({found['restarted_after_s']:.1f} s after its close)")
    return lines
