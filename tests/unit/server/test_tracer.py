"""SOCKLAB_WAIT_FOR_TRACER: the server holds before socket() until a tracer is attached, bounded, and says which."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys

import pytest

from server.log import Log
from server.tracer import tracer_pid, wait_for_tracer
from support import ServerProcess


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_it_goes_on_as_soon_as_a_tracer_holds_it():
    clock, out = Clock(), io.StringIO()
    looks = iter([0, 0, 0, 4242])
    assert wait_for_tracer(5, Log(out), read=lambda: next(looks), clock=clock, sleep=clock.sleep) == 4242
    assert clock.now < 0.1 and "tracer attached (pid 4242)" in out.getvalue()


def test_without_a_tracer_it_goes_on_after_the_bound_and_says_so():
    clock, out = Clock(), io.StringIO()
    assert wait_for_tracer(0.5, Log(out), read=lambda: 0, clock=clock, sleep=clock.sleep) == 0
    assert 0.5 <= clock.now < 0.6 and "no tracer attached within 0.5 s: going on" in out.getvalue()


def test_zero_does_not_wait_nor_look():
    def read() -> int:
        raise AssertionError("looked for a tracer")

    out = io.StringIO()
    assert wait_for_tracer(0, Log(out), read=read) == 0 and out.getvalue() == ""


def test_tracer_pid_reads_proc_status(tmp_path):
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nState:\tS (sleeping)\nTracerPid:\t77\nUid:\t0\n")
    assert tracer_pid(str(status)) == 77
    assert tracer_pid(str(tmp_path / "missing")) == 0
    if sys.platform == "linux":
        assert tracer_pid() == 0  # nobody traces this test


def test_the_server_listens_after_the_bound_when_no_tracer_comes():
    with ServerProcess(env={"SOCKLAB_WAIT_FOR_TRACER": "0.3", "PATH": "/usr/bin:/bin"}) as server:
        assert any("no tracer attached within 0.3 s: going on" in line for line in server.lines)


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed on this host")
def test_strace_attached_while_it_waits_sees_socket_bind_and_listen():
    server = ServerProcess(env={"SOCKLAB_WAIT_FOR_TRACER": "20", "PATH": "/usr/bin:/bin"})
    calls = ["strace", "-f", "-e", "trace=socket,bind,listen", "-p", str(server.proc.pid)]
    strace = subprocess.Popen(calls, stderr=subprocess.PIPE, text=True)
    try:
        with server:  # started: it logged its listening line
            said = [line for line in server.lines if "tracer attached" in line or "listening on" in line]
            assert "tracer attached" in said[0] and "listening on" in said[1], server.log()
    finally:
        strace.kill()
        _, trace = strace.communicate(timeout=10)
    if "Operation not permitted" in trace:
        pytest.skip(f"this host does not let a test ptrace its children: {trace.strip()}")
    made = [line.split(",")[0] for line in trace.splitlines() if line.startswith(("socket(AF_INET", "bind", "listen"))]
    assert made == ["socket(AF_INET", "bind(3", "listen(3"], trace  # the lookups' AF_UNIX sockets aside
