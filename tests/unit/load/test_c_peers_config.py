"""The C peers and the Python programs take and refuse the same seconds: one rule, wire.config's.

Each program is started on loopback with one value in its environment. A refused value is exit 2 and one
line on stderr, before anything listens or connects; a taken value starts the program (a server prints
its listening line, stopped by SIGTERM; a client gets to connecting, to a port where nothing listens).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from socklab.paths import ROOT
from socklab.wire.config import ClientConfig, ServerConfig

REFUSED = ["nan", "NaN", "inf", "-inf", "-1", "-0.001", "86401", "1e9", "5s", "abc"]
SERVER_TAKES = ["0", "0.25", "5", "86400"]
CLIENT_TAKES = ["0.25", "1"]  # a deadline must be positive: 0 is refused too
START = 10.0  # seconds for a program to print its first line


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _servers(c_peers: Path) -> dict[str, list[str]]:
    return {
        "c-fork": [str(c_peers / "server")],
        "c-epoll": [str(c_peers / "epoll_server")],
        "python": [sys.executable, "-m", "server", "--bind", "127.0.0.1"],
    }


def _run(command: list[str], env: dict[str, str], *, until: str | None = None) -> tuple[int, str, str]:
    """Run ``command``; with ``until``, stop it (SIGTERM) once stdout shows that text."""
    proc = subprocess.Popen(
        command, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    try:
        if until is not None:
            seen = ""
            while until not in seen:
                line = proc.stdout.readline()
                if not line:
                    break  # it exited: the exit code and stderr tell why
                seen += line
            if proc.poll() is None:
                proc.terminate()
            out, err = proc.communicate(timeout=START)
            return proc.returncode, seen + out, err
        out, err = proc.communicate(timeout=START)
        return proc.returncode, out, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("value", REFUSED)
@pytest.mark.parametrize("server", ["c-fork", "c-epoll", "python"])
def test_every_server_refuses_a_bad_delay_with_exit_2_and_one_line(c_peers: Path, server: str, value: str) -> None:
    with pytest.raises(ValueError):  # the host could not even write it: ServerConfig refuses it first
        ServerConfig.from_env({"SOCKLAB_DELAY": value})
    env = {"SOCKLAB_DELAY": value, "SOCKLAB_PORT": str(_free_port())}
    code, out, err = _run(_servers(c_peers)[server], env)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and ("SOCKLAB_DELAY" in lines[0] or "delay" in lines[0]), err
    assert "listening" not in out


@pytest.mark.parametrize("value", SERVER_TAKES)
@pytest.mark.parametrize("server", ["c-fork", "c-epoll", "python"])
def test_every_server_takes_a_good_delay(c_peers: Path, server: str, value: str) -> None:
    assert ServerConfig.from_env({"SOCKLAB_DELAY": value}).delay == float(value)
    env = {"SOCKLAB_DELAY": value, "SOCKLAB_PORT": str(_free_port())}
    code, out, err = _run(_servers(c_peers)[server], env, until="listening on")
    assert "listening on" in out, (code, out, err)
    assert code == 0, (out, err)  # stopped by SIGTERM with nothing in flight


@pytest.mark.parametrize("value", [*REFUSED, "0"])
@pytest.mark.parametrize("variable", ["SOCKLAB_CONNECT_DEADLINE", "SOCKLAB_REPLY_TIMEOUT"])
@pytest.mark.parametrize("client", ["c", "python"])
def test_both_clients_refuse_a_bad_deadline_alike(c_peers: Path, client: str, variable: str, value: str) -> None:
    with pytest.raises(ValueError):
        ClientConfig.from_env({variable: value})
    command = [str(c_peers / "client")] if client == "c" else [sys.executable, "-m", "client"]
    code, out, err = _run(command, {variable: value, "SOCKLAB_SERVER": "127.0.0.1"})
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("value", CLIENT_TAKES)
@pytest.mark.parametrize("client", ["c", "python"])
def test_both_clients_take_a_good_deadline(c_peers: Path, client: str, value: str) -> None:
    """Nothing listens on the port: the client tries until its deadline, then says it could not connect (3)."""
    assert ClientConfig.from_env({"SOCKLAB_CONNECT_DEADLINE": value}).connect_deadline == float(value)
    command = [str(c_peers / "client")] if client == "c" else [sys.executable, "-m", "client"]
    env = {"SOCKLAB_CONNECT_DEADLINE": value, "SOCKLAB_SERVER": "127.0.0.1", "SOCKLAB_PORT": str(_free_port())}
    code, out, err = _run(command, env)
    assert code == 3, (out, err)


@pytest.mark.parametrize("server", ["c-fork", "c-epoll", "python"])
def test_every_server_waits_for_a_tracer_before_listening_only_as_long_as_told(c_peers: Path, server: str) -> None:
    env = {"SOCKLAB_WAIT_FOR_TRACER": "0.3", "SOCKLAB_PORT": str(_free_port())}
    code, out, err = _run(_servers(c_peers)[server], env, until="listening on")
    said = out.splitlines()
    waited = next((i for i, line in enumerate(said) if "no tracer attached within 0.3 s: going on" in line), None)
    listening = next(i for i, line in enumerate(said) if "listening on" in line)
    assert waited is not None and waited < listening, out
    assert code == 0, (out, err)


@pytest.mark.parametrize("value", ["nan", "-1", "abc"])
@pytest.mark.parametrize("server", ["c-fork", "c-epoll", "python"])
def test_every_server_refuses_a_bad_tracer_wait(c_peers: Path, server: str, value: str) -> None:
    with pytest.raises(ValueError):
        ServerConfig.from_env({"SOCKLAB_WAIT_FOR_TRACER": value})
    env = {"SOCKLAB_WAIT_FOR_TRACER": value, "SOCKLAB_PORT": str(_free_port())}
    code, out, err = _run(_servers(c_peers)[server], env)
    assert code == 2 and "WAIT_FOR_TRACER" in err.upper().replace("-", "_"), (out, err)
