"""``unix``: the same server and client over AF_UNIX: two containers, no network, one socket file.

The server listens on a path in a volume that both containers mount; the file it creates is a socket
(type ``s`` in ``ls -l``), and the client that opens it gets 'B' as over TCP. Then the file is removed
while the server still runs: the kernel keeps the listening socket (``/proc/net/unix`` still lists it),
but the name was the only way in, so a new client fails at once with "No such file or directory".
"""

from __future__ import annotations

import json
import time
from typing import Any

from socklab.experiments.record import Result
from socklab.experiments.stage import Stage
from socklab.lab.client_run import ClientRun
from socklab.progress import Progress, quiet
from socklab.wire import DEFAULT_SOCKET_PATH, ClientResult
from socklab.wire.config import ClientConfig, ServerConfig

NAME = "unix"
CLAIM = "a socket can live on one machine (AF_UNIX, named by a file) as well as across a network"
SOCKET_DIR = DEFAULT_SOCKET_PATH.rsplit("/", 1)[0]


def _client_record(run: ClientRun) -> tuple[int, ClientResult | None, str]:
    """Its exit code, its result record (wire's parser; None when it printed none), and all it printed."""
    return run.exit_code, run.result, run.stdout + run.stderr


def run(*, probes_image: str, server_image: str, client_image: str, progress: Progress = quiet, **_: Any) -> Result:
    result = Result(NAME, CLAIM)
    started = time.monotonic()
    result.did += [
        f"a volume mounted at {SOCKET_DIR} in a server container and a client container, both with no network",
        f"the server ({server_image}) listens on {DEFAULT_SOCKET_PATH} ({ServerConfig.variable('transport')}=unix); "
        "the file is looked at like ls -l from a third container on the same volume",
        "the client sends 'A' over the socket file",
        "the file is removed while the server runs; a new client tries again (connect deadline 2 s)",
    ]
    with Stage(NAME, probes_image=probes_image, progress=progress) as stage:
        # No network at all; the socket's folder shared through a volume.
        alone: dict[str, Any] = {"networked": False, "volumes": {"socket": SOCKET_DIR}}
        server_env = ServerConfig(transport="unix", socket_path=DEFAULT_SOCKET_PATH, delay=0.5).to_env()
        server = stage.start("server", image=server_image, env=server_env, **alone)
        stage.wait_for_listening(server, DEFAULT_SOCKET_PATH, server_image)
        looker = stage.run_once("ls", ["probes.kernel", "stat", DEFAULT_SOCKET_PATH], **alone)
        listed: dict[str, Any] = json.loads(looker.stdout.splitlines()[0])["value"]
        client_env = ClientConfig(
            transport="unix", socket_path=DEFAULT_SOCKET_PATH, json=True, connect_deadline=2
        ).to_env()
        first_status, first, _first_output = _client_record(
            stage.run_once("client", image=client_image, env=client_env, **alone)
        )
        stage.run_once("rm", ["probes.unlink", DEFAULT_SOCKET_PATH], **alone)
        kernel_view = [s for s in stage.observe(server, "unix")[0] if s["path"] == DEFAULT_SOCKET_PATH]
        late_status, second, late_output = _client_record(
            stage.run_once("late-client", image=client_image, env=client_env, **alone)
        )
        server_state = server.status()

    first_client = {
        "exit_code": first_status,
        "received": first.received_char if first else None,
        "server": first.server if first else None,
    }
    late_client = {
        "exit_code": late_status,
        "outcome": second.outcome if second else None,
        "error": (second.error if second else None) or late_output.strip()[-300:],
    }
    result.numbers = {
        "file": listed,
        "first_client": first_client,
        "kernel_after_removal": kernel_view,
        "late_client": late_client,
        "server_after_removal": server_state,
    }
    result.observed += [
        f"{listed['mode']} {listed['owner']} {listed['size']} {listed['path']}  "
        f"(type {'socket' if listed['is_socket'] else 'not a socket'})",
        f"first client: exit {first_status}, answer {first_client['received']!r} over {first_client['server']}",
        f"after rm: the server is {server_state}; /proc/net/unix in its namespace still lists "
        f"{sum(s['listening'] for s in kernel_view)} listening socket(s) bound to {DEFAULT_SOCKET_PATH}",
        f"late client: exit {late_status}, {late_client['outcome']}: {late_client['error']}",
    ]
    if not listed.get("is_socket") or first is None or first.received_char != "B":
        result.differences.append("the exchange over the socket file did not work as over TCP")
    result.seconds = time.monotonic() - started
    return result
