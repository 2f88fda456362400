"""Where the server listens: a TCP port (IPv4 or IPv6), a Unix stream socket, or a UDP port.

A transport opens the server's socket, says in the log where it listens, names a peer, and cleans up
after itself; the servers take it as a class attribute (as socketserver's address_family), so a Unix
server is ``class UnixForkingServer(ForkingServer): transport = UNIX``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
from typing import ClassVar

from .config import ServerConfig

HEALTH_PROBE_PREFIX = b"\0socklab-healthcheck-"  # the abstract name the health check binds to over unix
SOCKET_MODE = 0o666  # a client in another container (another uid) sharing the volume may connect


class BindError(OSError):
    """The socket could not be set up (port or path in use, address not here, no permission)."""


def _bind_error(exc: OSError, where: str) -> BindError:
    reason = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
    return BindError(exc.errno, f"cannot listen on {where}: {reason}")


def endpoint(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Transport:
    """TCP: a stream socket on ``bind``:``port``, its family (IPv4 or IPv6) from the address itself."""

    name: ClassVar[str] = "tcp"
    kind: ClassVar[socket.SocketKind] = socket.SOCK_STREAM

    @property
    def is_stream(self) -> bool:
        return self.kind == socket.SOCK_STREAM

    def open(self, config: ServerConfig) -> socket.socket:
        """A bound (and for streams, listening) non-blocking socket; BindError names where and why."""
        where = endpoint(config.bind, config.port)
        try:
            family, _type, _proto, _name, sockaddr = socket.getaddrinfo(
                config.bind or None, config.port, socket.AF_UNSPEC, self.kind, 0, socket.AI_PASSIVE
            )[0]
        except socket.gaierror as exc:
            raise BindError(errno.EADDRNOTAVAIL, f"cannot listen on {where}: {exc.strerror}") from exc
        sock = socket.socket(family, self.kind)
        try:
            # Lets a restarted server bind at once although old connections sit in TIME_WAIT.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(sockaddr)
            if self.is_stream:
                sock.listen(config.backlog)
        except OSError as exc:
            sock.close()
            raise _bind_error(exc, where) from exc
        sock.setblocking(False)
        return sock

    def where(self, sock: socket.socket) -> str:
        """Where ``sock`` listens, for the log: 0.0.0.0:9736, [::1]:9736, /run/socklab/socklab.sock."""
        host, port = sock.getsockname()[:2]
        return endpoint(host, port)

    def peer(self, address: object, number: int) -> tuple[str, int]:
        """The peer as (address, port); ``number`` counts connections (a Unix peer has no address)."""
        assert isinstance(address, tuple)
        return str(address[0]), int(address[1])

    def is_probe(self, address: object) -> bool:
        """A connection from the server's own loopback: the image's HEALTHCHECK."""
        host = str(address[0]) if isinstance(address, tuple) else ""
        return host.startswith("127.") or host in ("::1", "::ffff:127.0.0.1")

    def close(self, sock: socket.socket, config: ServerConfig) -> None:
        sock.close()


class UnixTransport(Transport):
    """A Unix stream socket at ``socket_path``: its directory created, mode 0666, removed on exit."""

    name: ClassVar[str] = "unix"

    def open(self, config: ServerConfig) -> socket.socket:
        path = config.socket_path
        where = path
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            _remove_stale(path)
        except OSError as exc:
            raise _bind_error(exc, where) from exc
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
            os.chmod(path, SOCKET_MODE)  # bind() honours the umask; the mode is the point
            sock.listen(config.backlog)
        except OSError as exc:
            sock.close()
            raise _bind_error(exc, where) from exc
        sock.setblocking(False)
        return sock

    def where(self, sock: socket.socket) -> str:
        return str(sock.getsockname())

    def peer(self, address: object, number: int) -> tuple[str, int]:
        return "unix", number

    def is_probe(self, address: object) -> bool:
        return isinstance(address, bytes) and address.startswith(HEALTH_PROBE_PREFIX)

    def close(self, sock: socket.socket, config: ServerConfig) -> None:
        sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(config.socket_path)


def _remove_stale(path: str) -> None:
    """Remove a socket file a crashed server left; refuse to touch a live one or a file that is no socket."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise OSError(errno.EEXIST, f"{path} exists and is not a socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            os.unlink(path)  # nobody listens: left by a server that died
            return
    raise OSError(errno.EADDRINUSE, "address already in use")


class DatagramTransport(Transport):
    """UDP on ``bind``:``port``: each datagram is a request, answered to its sender."""

    name: ClassVar[str] = "udp"
    kind: ClassVar[socket.SocketKind] = socket.SOCK_DGRAM


TCP = Transport()
UNIX = UnixTransport()
UDP = DatagramTransport()
TRANSPORTS: dict[str, Transport] = {t.name: t for t in (TCP, UNIX, UDP)}
