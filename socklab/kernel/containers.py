"""The observer's and the tracers' containers: tools-image containers of a ``Lab``, and their lines as they come.

Both run the ``observer`` package (``agents/observer``), copied in before they start, as the fault agent is.
What each may do is the least its job needs:

- the **observer** (one per lab): root with SYS_ADMIN (``setns`` into another namespace), SYS_PTRACE (open
  another container's ``/proc/PID/ns/net``) and NET_RAW (AF_PACKET), in the engine host's PID namespace, with
  no network of its own and every other capability dropped. That is much: together they could reach any
  namespace of the machine; it runs only the observer, reads and never writes, and is removed with the lab.
  The alternative, a sidecar per host (NET_RAW in one namespace each), doubles the containers of a run:
  dockerd starts about 4 a second here, so 50 clients would wait 12 s more, and 50 more Python processes
  would sample on two cores.
- a **tracer** (one per server process): in that server's PID and network namespaces, root with SYS_PTRACE
  and DAC_READ_SEARCH (strace ``-yy`` reads the server's ``/proc/PID/fd``, which only its own uid may list)
  and nothing else. The server keeps its lock-down.
Their roles start with ``kernel-`` (``kernel-observer-1``, ``kernel-strace-server-2``): the observation's own
containers, never hosts of the lesson.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import docker.errors
import requests

from socklab.lab.containers import LabContainer
from socklab.lab.topology import Hardening, Node
from socklab.observer.protocol import ProtocolError, dump, parse
from socklab.paths import ROOT

if TYPE_CHECKING:
    from socklab.lab.lab import Lab

HOME = "/opt/socklab"  # where the observer package goes (PYTHONPATH), as the fault agent's
ENV = {"PYTHONPATH": HOME, "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"}
COPIES = {str(ROOT / "agents" / "observer"): HOME}
# Files are copied in between create and start, which a read-only root refuses.
HARDENING = Hardening(read_only=False, cap_drop=("ALL",), pids_limit=64, mem_limit="256m")
OBSERVER_EXTRA = {
    **{"pid_mode": "host", "cap_add": ["SYS_ADMIN", "SYS_PTRACE", "NET_RAW"], "user": "0"},
    # 8x the default weight: on a busy machine (50 clients on 2 cores) its samples are late less often; it
    # uses a tenth of a core, so the weight takes nothing from anyone else in a quiet moment.
    "cpu_shares": 8192,
}
OBSERVER_IO = {"stdin_open": True, "working_dir": HOME}
# ptrace, and reading the server's /proc/PID/fd (its uid's, mode 0500) for strace -yy's socket names.
TRACER_CAPABILITIES = ["SYS_PTRACE", "DAC_READ_SEARCH"]

Handler = Callable[[str, dict[str, Any]], None]


def observer_node(lab: Lab, image: str) -> Node:
    return Node(
        lab.new_role("kernel-observer"),
        image,
        env=ENV,
        command=("python3", "-m", "observer"),
        network=None,
        hardening=HARDENING,
        extra={**OBSERVER_EXTRA, **OBSERVER_IO},
        copies=COPIES,
    )


def tracer_node(lab: Lab, target: LabContainer, image: str) -> Node:
    """strace in ``target``'s PID and network namespaces (``-yy`` names its sockets from there)."""
    return Node(
        lab.new_role(f"kernel-strace-{target.node.role}"),
        image,
        env=ENV,
        command=("python3", "-m", "observer.trace"),
        shares_network_with=target.node.role,
        hardening=HARDENING,
        extra={
            "pid_mode": f"container:{target.sdk.id}",
            "cap_add": TRACER_CAPABILITIES,
            "user": "0",
            "working_dir": HOME,
        },
        copies=COPIES,
    )


class Running:
    """One of these containers, started; each protocol line it prints goes to ``handle`` (from a thread of its
    own), anything else is kept in ``noise`` (a traceback says why it ended)."""

    def __init__(self, lab: Lab, node: Node, handle: Handler) -> None:
        self.lab = lab
        self.node = node
        self.handle = handle
        self.noise: list[str] = []
        self.ended = threading.Event()
        self.container: LabContainer | None = None
        self._stdin: socket.socket | None = None
        self._lock = threading.Lock()

    def start(self) -> Running:
        if self.node.extra.get("stdin_open"):
            self.container, self._stdin = self.lab.add_attached(self.node)
        else:
            self.container = self.lab.add(self.node)
        threading.Thread(target=self._read, args=(self.container,), name=f"{self.node.role}-lines", daemon=True).start()
        return self

    def _read(self, container: LabContainer) -> None:
        client = docker.from_env()
        pending = b""
        try:
            for chunk in client.api.logs(container.sdk.id, stream=True, follow=True, stdout=True, stderr=True):
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    self._line(line.decode(errors="replace"))
        except (docker.errors.APIError, requests.exceptions.RequestException, OSError):
            pass  # removed
        finally:
            self.ended.set()
            with contextlib.suppress(Exception):
                client.close()

    def _line(self, text: str) -> None:
        try:
            msg, fields = parse(text)
        except ProtocolError:
            if text.strip():
                self.noise.append(text)
            return
        self.handle(msg, fields)

    def send(self, msg: str, **fields: Any) -> None:
        """A command on its stdin (the observer's)."""
        with self._lock, contextlib.suppress(OSError, ValueError, AttributeError):
            assert self._stdin is not None
            self._stdin.sendall((dump(msg, **fields) + "\n").encode())

    def close(self, timeout: float = 10) -> None:
        """EOF on its stdin (the observer then samples a last time and ends), its last lines read, removed."""
        with self._lock:
            if self._stdin is not None:
                with contextlib.suppress(OSError):
                    self._stdin.shutdown(socket.SHUT_RDWR)
                    self._stdin.close()
                self._stdin = None
        if self.container is not None:
            if self.node.extra.get("stdin_open"):
                self.ended.wait(timeout)
            self.lab.remove(self.container)
            self.ended.wait(2)
