"""A one-connection server that may be restarted at once, and its client: who closes first, who can bind.

``serve`` binds the port (with SO_REUSEADDR only when ``--reuseaddr``) and says whether bind() worked; if
it did, it serves ``--connections`` exchanges ('A' in, 'B' out) and exits. ``--closer server`` closes each
connection right after the answer, as the lesson's server does; ``--closer client`` waits until the client
has closed first. ``call`` is the client: it sends 'A', reads the answer, and closes at once (``--closer
client``) or after the server's EOF. The side that closes first is the one left in TIME_WAIT.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys

from probes.events import emit


def serve(port: int, reuse: bool, connections: int, closer: str) -> int:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if reuse:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("0.0.0.0", port))
    except OSError as exc:
        code = exc.errno or 0
        emit("bind", ok=False, reuseaddr=reuse, errno=errno.errorcode.get(code, str(code)), error=exc.strerror)
        return 3
    emit("bind", ok=True, reuseaddr=reuse)
    listener.listen(5)
    emit("listening", port=port)
    for _ in range(connections):
        conn, address = listener.accept()
        request = conn.recv(1)
        conn.sendall(bytes([(request[0] + 1) % 256]))
        if closer == "client":
            while conn.recv(1024):  # until the client's FIN
                pass
        conn.close()
        emit("closed", peer=f"{address[0]}:{address[1]}", closer=closer)
    listener.close()
    return 0


def call(server: str, port: int, closer: str) -> None:
    with socket.create_connection((socket.gethostbyname(server), port), timeout=10) as sock:
        local = "{}:{}".format(*sock.getsockname())
        sock.sendall(b"A")
        answer = sock.recv(1)
        if closer == "server":
            while sock.recv(1024):  # until the server's FIN
                pass
    emit("done", received=answer.decode(errors="replace"), local=local, closer=closer)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m probes.rebind")
    parser.add_argument("role", choices=("serve", "call"))
    parser.add_argument("--server", default="server")
    parser.add_argument("--port", type=int, default=9736)
    parser.add_argument("--reuseaddr", action="store_true", help="set SO_REUSEADDR before bind()")
    parser.add_argument("--connections", type=int, default=1, help="exchanges to serve before exiting")
    parser.add_argument("--closer", choices=("server", "client"), default="server", help="who closes first")
    args = parser.parse_args()
    if args.role == "serve":
        sys.exit(serve(args.port, args.reuseaddr, args.connections, args.closer))
    call(args.server, args.port, args.closer)


if __name__ == "__main__":
    main()
