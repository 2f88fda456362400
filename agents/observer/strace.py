"""strace's lines as system calls: ``strace -f -ttt -T -y -o FILE`` (each line ``PID SECONDS call(args) = result
<blocked>``), the calls cut short for a lesson's eye.

    1234  1764676805.002117 accept4(3<TCP:[0.0.0.0:9736]>, {sa_family=AF_INET, sin_port=htons(53832),
          sin_addr=inet_addr("172.18.0.4")}, [16], SOCK_CLOEXEC) = 5<TCP:[172.18.0.3:9736->172.18.0.4:53832]> <4.512>

becomes ``Syscall(pid=1234, call="accept4", args="3, 172.18.0.4:53832, [16], SOCK_CLOEXEC", result="5",
seconds=4.512, fd=3, socket="172.18.0.3:9736>172.18.0.4:53832")``: ``socket`` is the connection the call is
about (for accept, the one it returned), written as the socket events write their keys (local>peer). That is
how ``-yy`` names a socket; ``-y`` names it by inode (``5<socket:[73124]>``: ``inode=73124``, ``socket=None``),
which costs the server far less (``-yy`` asks the kernel for the ends at every call it prints), and the tracer
then looks the inode up itself (``trace.Names``).

A call that blocks arrives in pieces: its entry as soon as it is made (strace writes it at once), the rest
when it returns, or ``<unfinished ...>`` and later ``<... accept4 resumed>`` when another process got in
between. ``Strace`` joins the pieces per process; ``Strace.entry`` reads an entry still open, so a reader can
say "blocked since t" while it lasts (``done=False``), and the finished call again (``done=True``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CALLS", "Exit", "Strace", "Syscall"]

# The lesson's calls: make, bind, listen, accept, fork (clone), read, sleep, write, close, reap; the waits of the
# event-loop models (epoll_wait, select, poll); the recv/send variants the runtimes use for read and write.
CALLS = (
    *("socket", "bind", "listen", "accept", "accept4", "fork", "vfork", "clone", "clone3"),
    *("read", "recvfrom", "recvmsg", "write", "sendto", "sendmsg", "close", "shutdown"),
    *("nanosleep", "clock_nanosleep", "select", "pselect6", "poll", "ppoll"),
    *("epoll_wait", "epoll_pwait", "epoll_pwait2", "wait4", "waitid"),
)
ARGS_WIDTH = 80  # characters of the arguments kept

_HEAD = re.compile(r"^(?P<pid>\d+)\s+(?P<t>\d+\.\d+)\s+(?P<rest>.*)$")
_CALL = re.compile(r"^(?P<call>\w+)\(")
_RESUMED = re.compile(r"^<\.\.\. (?P<call>\w+) resumed>\s?")
_EXIT = re.compile(r"^\+\+\+ (?P<how>exited with \d+|killed by \w+(?: \(core dumped\))?) \+\+\+$")
_SIGNAL = re.compile(r"^--- (?P<signal>SIG\w+) (?P<info>.*) ---$")
_UNFINISHED = " <unfinished ...>"
_OUTCOME = re.compile(r"^\s*=\s*(?P<result>.*?)(?:\s+<(?P<seconds>\d+\.\d+|unavailable)>)?\s*$")
# fd decorations of -yy: 3<TCP:[172.18.0.3:9736->172.18.0.4:53832]>, 1</dev/null<char 1:3>>, 5<pipe:[467]>
_DECORATED = re.compile(r"(?P<fd>-?\d+)<(?P<what>(?:->|[^<>]|<[^<>]*>)*)>")
_ENDPOINTS = re.compile(r"^(?:TCP|TCPv6|UDP|UDPv6):\[(?P<ends>.*:\d+)\]$")  # -yy: a socket's two ends
_INODE = re.compile(r"^(?:socket|TCP|TCPv6|UDP|UDPv6):\[(?P<inode>\d+)\]$")  # -y (or -yy unbound): its inode
_SOCKADDR4 = re.compile(
    r'\{sa_family=AF_INET, sin_port=htons\((?P<port>\d+)\), sin_addr=inet_addr\("(?P<ip>[^"]+)"\)\}'
)
_SOCKADDR6 = re.compile(
    r'\{sa_family=AF_INET6, sin6_port=htons\((?P<port>\d+)\), [^{}]*?inet_pton\(AF_INET6, "(?P<ip>[^"]+)"[^{}]*\}'
)
_STACK = re.compile(r"^child_stack=[^,]+, ")
_ERRNO = re.compile(r"^(?P<value>-1 E[A-Z0-9]+|\?|\S+?)(?:<.*)?(?:\s.*)?$")


@dataclass(frozen=True)
class Syscall:
    t: float  # when it was made (strace's -ttt)
    pid: int
    call: str
    args: str
    result: str | None  # None while it has not returned
    seconds: float | None  # how long it took (blocked), None while open or unknown
    done: bool
    fd: int | None = None
    socket: str | None = None
    inode: int | None = None  # the socket's inode, when strace named it by inode (-y): ``socket`` is for the reader


@dataclass(frozen=True)
class Exit:
    t: float
    pid: int
    status: str  # "exited with 0", "killed by SIGKILL"


def _close(text: str, start: int = 0, depth: int = 1) -> int | None:
    """Where the call's closing parenthesis is, reading from ``start`` already ``depth`` brackets deep (strings
    with their escapes skipped); None if the text ends first."""
    quoted = escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return index
    return None


def _ends(decoration: str) -> tuple[str | None, int | None]:
    """(its ends as local>peer, its inode) of a socket's fd decoration: -yy names the ends, -y the inode."""
    ends = _ENDPOINTS.match(decoration)
    if ends is not None:
        return ends["ends"].replace("->", ">"), None
    inode = _INODE.match(decoration)
    return None, None if inode is None else int(inode["inode"])


def _first_fd(args: str) -> tuple[int | None, str | None, int | None]:
    found = _DECORATED.match(args)
    if found is None:
        return None, None, None
    return int(found["fd"]), *_ends(found["what"])


def shorten(args: str) -> str:
    """The arguments as a lesson shows them: fds without their -yy paths, addresses as ip:port, clone's flags
    first, cut."""
    text = _DECORATED.sub(lambda m: m["fd"], args)
    text = _STACK.sub("", text)  # clone's flags first: CLONE_THREAD (a thread) or SIGCHLD alone (a process)
    text = _SOCKADDR4.sub(lambda m: f"{m['ip']}:{m['port']}", text)
    text = _SOCKADDR6.sub(lambda m: f"[{m['ip']}]:{m['port']}", text)
    return text if len(text) <= ARGS_WIDTH else text[: ARGS_WIDTH - 1] + "…"


def _outcome(tail: str) -> tuple[str | None, float | None, tuple[str | None, int | None]]:
    """(result, seconds, the returned socket's ends and inode) of what follows the closing parenthesis."""
    found = _OUTCOME.match(tail)
    if found is None:
        return None, None, (None, None)
    raw = found["result"]
    returned = _DECORATED.match(raw)
    value = _ERRNO.match(raw)
    seconds = found["seconds"]
    return (
        value["value"] if value else raw,
        float(seconds) if seconds and seconds != "unavailable" else None,
        _ends(returned["what"]) if returned else (None, None),
    )


class Strace:
    """Lines of ``strace -f -ttt -T -yy -o FILE`` in, system calls and process exits out."""

    def __init__(self) -> None:
        self.open: dict[int, tuple[Syscall, str]] = {}  # pid -> its unfinished call, and the arguments so far

    def line(self, text: str) -> list[Syscall | Exit]:
        head = _HEAD.match(text.rstrip("\n"))
        if head is None:
            return []
        pid, t, rest = int(head["pid"]), float(head["t"]), head["rest"]
        ended = _EXIT.match(rest)
        if ended:
            self.open.pop(pid, None)
            return [Exit(t, pid, ended["how"])]
        signal = _SIGNAL.match(rest)
        if signal:
            return [Syscall(t, pid, "signal", signal["signal"], None, 0.0, True)]
        resumed = _RESUMED.match(rest)
        if resumed:
            return self._resumed(pid, resumed["call"], rest[resumed.end() :])
        if rest.endswith(_UNFINISHED):
            entry = self.entry(text[: -len(_UNFINISHED)])
            if entry is not None:
                self.open[pid] = (entry, rest[len(entry.call) + 1 : -len(_UNFINISHED)])
            return []
        return [call] if (call := self._complete(pid, t, rest)) is not None else []

    def entry(self, text: str) -> Syscall | None:
        """A call made and not yet returned (``done`` false): an unfinished line, or the part of a line strace
        wrote so far."""
        head = _HEAD.match(text)
        call = None if head is None else _CALL.match(head["rest"])
        if head is None or call is None:
            return None
        args = head["rest"][call.end() :].rstrip(", ")
        fd, ends, inode = _first_fd(args)
        t, pid = float(head["t"]), int(head["pid"])
        return Syscall(t, pid, call["call"], shorten(args), None, None, False, fd, ends, inode)

    def opened(self, partial: str = "") -> list[Syscall]:
        """Every call open now: the unfinished ones, and the one on the line strace is still writing."""
        entries = [entry for entry, _args in self.open.values()]
        last = self.entry(partial) if partial else None
        return entries if last is None else [*entries, last]

    def _complete(self, pid: int, t: float, rest: str) -> Syscall | None:
        call = _CALL.match(rest)
        end = None if call is None else _close(rest, call.end())
        if call is None or end is None:
            return None
        return self._finish(pid, t, call["call"], rest[call.end() : end], rest[end + 1 :])

    def _resumed(self, pid: int, name: str, rest: str) -> list[Syscall | Exit]:
        entry, before = self.open.pop(pid, (None, ""))
        if entry is None or entry.call != name:
            return []  # its entry came before the tracer attached, or a line was lost: no start to draw it from
        rest = rest.removeprefix("<unfinished ...>")
        end = _close(rest)
        if end is None:
            return []
        args = (before.rstrip(", ") + ", " + rest[:end].lstrip(", ")).strip(", ") if before else rest[:end]
        return [self._finish(pid, entry.t, name, args, rest[end + 1 :])]

    def _finish(self, pid: int, t: float, call: str, args: str, tail: str) -> Syscall:
        result, seconds, returned = _outcome(tail)
        fd, ends, inode = _first_fd(args)
        if call in ("accept", "accept4") and returned != (None, None):
            ends, inode = returned  # the connection it returned
        return Syscall(t, pid, call, shorten(args), result, seconds, True, fd, ends, inode)
