"""strace's lines as the lesson's system calls, read from real traces: each server model of socklab's images,
traced in its container by ``strace -f -ttt -T -yy`` (as the tracer runs it) while two clients sent 'A' (delay 1 s).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from observer.strace import Exit, Strace, Syscall, shorten

SAMPLES = Path(__file__).parent / "samples"
MODELS = ("fork", "thread", "async", "epoll", "c-fork", "c-epoll")


def read(model: str) -> list[Syscall | Exit]:
    parser = Strace()
    return [event for line in (SAMPLES / f"strace-{model}.txt").read_text().splitlines() for event in parser.line(line)]


def calls(events: list[Syscall | Exit], *names: str) -> list[Syscall]:
    return [e for e in events if isinstance(e, Syscall) and e.call in names]


@pytest.mark.parametrize("model", MODELS)
def test_socket_bind_listen_come_first_on_a_server_that_waited_for_its_tracer(model):
    made = calls(read(model), "socket", "bind", "listen")
    tcp = [c for c in made if c.call != "socket" or c.args.startswith("AF_INET, SOCK_STREAM")]
    assert [c.call for c in tcp[:3]] == ["socket", "bind", "listen"], tcp
    assert tcp[1].args.startswith(f"{tcp[0].result}, 0.0.0.0:9736") and tcp[2].args == f"{tcp[0].result}, 5"
    assert tcp[2].socket == "0.0.0.0:9736"  # named once it listens (-yy)


@pytest.mark.parametrize("model", MODELS)
def test_every_accepted_connection_reads_a_and_writes_b_on_the_same_socket(model):
    events = read(model)
    accepted = {c.socket for c in calls(events, "accept", "accept4") if c.result and not c.result.startswith("-1")}
    read_a = {c.socket for c in calls(events, "read", "recvfrom") if c.args.split(", ")[1:2] == ['"A"']}
    wrote_b = {c.socket for c in calls(events, "write", "sendto") if c.args.split(", ")[1:2] == ['"B"']}
    assert len(read_a) == 2 and read_a == wrote_b, (read_a, wrote_b)
    assert read_a <= accepted  # the two clients; the readiness check's connection sent nothing
    assert all(s.startswith("192.168.144.3:9736>192.168.144.1:") for s in accepted)  # the server's side, local>peer


def test_the_fork_server_forks_a_child_that_reads_sleeps_writes_closes_and_exits():
    events = read("fork")
    child_pids = {int(str(c.result)) for c in calls(events, "clone") if c.result and c.result.isdigit()}
    served = []
    for pid in child_pids:
        story = [e.call if isinstance(e, Syscall) else "exit" for e in events if e.pid == pid]
        if "sendto" in story:
            served.append(pid)
            lesson = [c for c in story if c in ("recvfrom", "clock_nanosleep", "sendto", "close", "exit")]
            assert lesson[-5:] == ["recvfrom", "clock_nanosleep", "sendto", "close", "exit"], story
    assert len(served) == 2
    sleeps = [c for c in calls(events, "clock_nanosleep") if c.pid in served]
    assert all(c.done and c.seconds is not None and 0.99 < c.seconds < 1.2 for c in sleeps), sleeps


def test_the_c_original_blocks_in_pselect_then_accepts_forks_and_its_child_nanosleeps():
    events = read("c-fork")
    assert [c.call for c in calls(events, "accept", "fork")][:2] == ["accept", "fork"]
    waits = calls(events, "pselect6")
    assert max(c.seconds or 0 for c in waits) > 0.05  # blocked until a client came
    naps = calls(events, "nanosleep")
    assert len(naps) == 2 and all(c.args.startswith("{tv_sec=1, tv_nsec=0}") and c.seconds > 0.99 for c in naps)
    exits = [e for e in events if isinstance(e, Exit)]
    assert sum(e.status == "exited with 0" for e in exits) >= 2


def test_an_interrupted_call_is_joined_with_its_resumption_and_timed_from_its_entry():
    events = read("thread")
    # 15    ...843321 clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, {...},  <unfinished ...>
    # 15    ...843439 <... clock_nanosleep resumed>NULL) = 0 <1.000085>
    nap = next(c for c in calls(events, "clock_nanosleep") if c.pid == 15)
    assert nap.t == pytest.approx(1796608997.843321) and nap.seconds == pytest.approx(1.000085)
    assert nap.result == "0" and nap.done and nap.args.endswith("NULL")


def test_threads_are_clones_of_the_process_and_clone3_is_refused_by_dockers_seccomp():
    events = read("thread")
    threads = [c for c in calls(events, "clone") if "CLONE_THREAD" in c.args]
    assert threads and all(c.result and c.result.isdigit() for c in threads)
    refused = calls(events, "clone3")
    assert refused and all(c.result == "-1 ENOSYS" for c in refused)


def test_a_call_still_open_reads_as_blocked_until_its_line_ends():
    parser = Strace()
    partial = "1     1796608997.761654 accept4(3<TCP:[0.0.0.0:9736]>, "
    entry = parser.opened(partial)[-1]
    assert (entry.call, entry.done, entry.result, entry.seconds, entry.fd) == ("accept4", False, None, None, 3)
    assert entry.socket == "0.0.0.0:9736"
    done = parser.line(
        partial + '{sa_family=AF_INET, sin_port=htons(45070), sin_addr=inet_addr("192.168.144.1")}, [16], '
        "SOCK_CLOEXEC) = 7<TCP:[192.168.144.3:9736->192.168.144.1:45070]> <2.500007>"
    )
    assert done == [
        Syscall(
            1796608997.761654,
            1,
            "accept4",
            "3, 192.168.144.1:45070, [16], SOCK_CLOEXEC",
            "7",
            2.500007,
            True,
            3,
            "192.168.144.3:9736>192.168.144.1:45070",
        )
    ]


def test_unfinished_calls_are_open_until_resumed():
    parser = Strace()
    assert parser.line("1     1796608997.844002 epoll_wait(6<anon_inode:[eventpoll]>,  <unfinished ...>") == []
    assert [(e.call, e.done) for e in parser.opened()] == [("epoll_wait", False)]
    (done,) = parser.line("1     1796608998.344604 <... epoll_wait resumed>[], 2, 500) = 0 <0.500568>")
    assert (done.t, done.seconds, done.result, done.args) == (1796608997.844002, 0.500568, "0", "6, [], 2, 500")
    assert parser.opened() == []


def test_results_and_arguments_are_cut_to_what_the_lesson_shows():
    (failed,) = Strace().line(
        "1     1796608997.763038 accept4(3<TCP:[0.0.0.0:9736]>, 0x7fff7011fbf0, [16], SOCK_CLOEXEC) = -1 EAGAIN "
        "(Resource temporarily unavailable) <0.000006>"
    )
    assert (failed.result, failed.socket) == ("-1 EAGAIN", "0.0.0.0:9736")
    assert shorten('read(4</dev/null<char 1:3>>, "x"') == 'read(4, "x"'
    assert len(shorten("x" * 500)) == 80
    six = '{sa_family=AF_INET6, sin6_port=htons(5000), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), '
    assert shorten(six + "sin6_scope_id=0}, [28]") == "[::1]:5000, [28]"


def test_exits_signals_and_lines_that_are_no_call():
    parser = Strace()
    assert parser.line("14    1796608997.766496 +++ exited with 0 +++") == [
        Exit(1796608997.766496, 14, "exited with 0")
    ]
    assert parser.line("1 1796608997.1 +++ killed by SIGKILL +++")[0].status == "killed by SIGKILL"
    (signal,) = parser.line("1     1796608998.9 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=14} ---")
    assert (signal.call, signal.args) == ("signal", "SIGCHLD")
    assert parser.line("strace: Process 14 attached") == []
    assert parser.line("1     1796608998.344604 <... epoll_wait resumed>[], 2, 500) = 0 <0.5>") == []  # no entry seen
