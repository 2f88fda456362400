"""What the kernel says, as JSON lines: counters, Unix sockets, a process's state and wait channel, zombies.

(TCP sockets are read from netlink, by the tools image's ``observer.sockets``: ``Stage.observe(c, "sockets")``.)

Run inside a container (``docker exec``), so every number is the one of that container's namespaces:
``/proc/net/*`` is per network namespace, ``/proc/<pid>`` per PID namespace. ``--samples N --interval S``
repeats the reading N times, one line each, for things that change while we watch.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import stat
import time
from collections.abc import Callable
from typing import Any


def snmp_tables(path: str) -> dict[str, dict[str, int]]:
    """``/proc/net/snmp`` and ``/proc/net/netstat``: pairs of lines, a header of names and a row of values."""
    tables: dict[str, dict[str, int]] = {}
    with open(path) as file:
        lines = file.read().splitlines()
    for header, values in zip(lines[::2], lines[1::2], strict=False):
        name, _, names = header.partition(":")
        tables[name] = {k: int(v) for k, v in zip(names.split(), values.partition(":")[2].split(), strict=True)}
    return tables


def counters() -> dict[str, Any]:
    return {**snmp_tables("/proc/net/snmp"), **snmp_tables("/proc/net/netstat")}


def unix_sockets() -> list[dict[str, Any]]:
    """``/proc/net/unix``: the AF_UNIX sockets of this network namespace, with the path each was bound to."""
    found = []
    with open("/proc/net/unix") as file:
        for line in file.read().splitlines()[1:]:
            fields = line.split()
            flags, kind, state = int(fields[3], 16), int(fields[4], 16), int(fields[5], 16)
            found.append(
                {
                    "path": fields[7] if len(fields) > 7 else None,
                    "listening": bool(flags & 0x10000),  # __SO_ACCEPTCON
                    "type": {1: "stream", 2: "dgram", 5: "seqpacket"}.get(kind, str(kind)),
                    "state": state,
                }
            )
    return found


def process(pid: int) -> dict[str, Any]:
    """State letter (S = sleeping, R = running, Z = zombie) and wait channel: where in the kernel it sleeps."""
    with open(f"/proc/{pid}/stat") as file:
        raw = file.read()
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    rest = raw[raw.rindex(")") + 2 :].split()
    with open(f"/proc/{pid}/wchan") as file:
        wchan = file.read().strip()
    with open(f"/proc/{pid}/cmdline", "rb") as file:
        cmdline = file.read().replace(b"\0", b" ").decode(errors="replace").strip()
    return {"pid": pid, "comm": comm, "state": rest[0], "ppid": int(rest[1]), "wchan": wchan, "cmdline": cmdline}


def processes() -> list[dict[str, Any]]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                found.append(process(int(name)))
            except (FileNotFoundError, ProcessLookupError):
                continue  # it ended while we looked
    return found


def zombies() -> dict[str, Any]:
    """Processes in state Z: what ``ps`` shows as ``<defunct>``."""
    every = processes()
    return {"processes": len(every), "zombies": [p for p in every if p["state"] == "Z"]}


def file_status(path: str) -> dict[str, Any]:
    """What ``ls -l`` shows: type and mode, owner, group, size."""
    try:
        st = os.lstat(path)
    except FileNotFoundError as exc:
        return {"path": path, "exists": False, "error": str(exc)}
    try:
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = str(st.st_uid)
    return {
        "path": path,
        "exists": True,
        "mode": stat.filemode(st.st_mode),
        "is_socket": stat.S_ISSOCK(st.st_mode),
        "is_fifo": stat.S_ISFIFO(st.st_mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
        "owner": owner,
        "size": st.st_size,
    }


SYSCTLS = (
    "net/ipv4/tcp_syncookies",
    "net/ipv4/tcp_abort_on_overflow",
    "net/ipv4/tcp_max_syn_backlog",
    "net/ipv4/tcp_syn_retries",
    "net/ipv4/tcp_syn_linear_timeouts",  # Linux 6.7+: the first SYN retries 1 s apart, not doubling
    "net/core/somaxconn",
)


def sysctls() -> dict[str, Any]:
    """The network namespace's own values (absent ones are left out: older kernels lack some)."""
    values = {}
    for name in SYSCTLS:
        try:
            with open(f"/proc/sys/{name}") as file:
                values[name.replace("/", ".")] = int(file.read().split()[0])
        except (FileNotFoundError, ValueError):
            continue
    return values


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m probes.kernel")
    parser.add_argument("what", choices=("counters", "unix", "process", "zombies", "stat", "sysctls"))
    parser.add_argument("target", nargs="?", help="pid (process), path (stat)")
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--interval", type=float, default=0.1)
    args = parser.parse_args()
    readers: dict[str, Callable[[], object]] = {
        "counters": counters,
        "unix": unix_sockets,
        "process": lambda: process(int(args.target)),
        "zombies": zombies,
        "stat": lambda: file_status(args.target),
        "sysctls": sysctls,
    }
    for index in range(args.samples):
        if index:
            time.sleep(args.interval)
        print(json.dumps({"at": time.time(), "value": readers[args.what]()}), flush=True)


if __name__ == "__main__":
    main()
