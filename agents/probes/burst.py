"""K TCP clients at once from one host: K non-blocking connect() calls in a row, then one event loop.

Threads would start their connects milliseconds apart, and on a bridge a handshake takes less than that,
so the server would see K polite clients one after another. Here the K SYNs leave within microseconds,
as K real hosts pressing Enter together would send them. Each client then sends one byte and reads the
answer. The last line, ``done``, has one record per client: when connect() completed, when the answer
came, or how it failed (``refused``: RST to the SYN; ``reset``: RST after the handshake; ``timeout``).
"""

from __future__ import annotations

import argparse
import errno
import selectors
import socket
import time
from typing import Any

from probes.events import emit

FAILURES = {errno.ECONNREFUSED: "refused", errno.ECONNRESET: "reset", errno.ETIMEDOUT: "timeout"}


def outcome_of(code: int) -> str:
    return FAILURES.get(code, errno.errorcode.get(code, str(code)).lower())


def run(server: str, port: int, count: int, char: int, timeout: float) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = [
        {"client": i, "connected_at": None, "answered_at": None, "outcome": "pending"} for i in range(count)
    ]
    selector = selectors.DefaultSelector()
    for index in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        records[index]["started_at"] = time.time()
        code = sock.connect_ex((server, port))
        if code not in (0, errno.EINPROGRESS):
            records[index].update(outcome=outcome_of(code), failed_at=time.time())
            sock.close()
            continue
        selector.register(sock, selectors.EVENT_WRITE, index)
    emit("all_connects_called", count=count)
    deadline = time.monotonic() + timeout
    while selector.get_map() and time.monotonic() < deadline:
        for key, _mask in selector.select(min(0.5, max(0.0, deadline - time.monotonic()))):
            record = records[key.data]
            assert isinstance(key.fileobj, socket.socket)
            sock = key.fileobj
            if record["connected_at"] is None:
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    _finish(selector, sock, record, outcome_of(code))
                    continue
                record["connected_at"] = time.time()
                emit("connected", client=key.data)
                sock.send(bytes([char]))
                selector.modify(sock, selectors.EVENT_READ, key.data)
                continue
            try:
                answer = sock.recv(1)
            except OSError as exc:
                _finish(selector, sock, record, outcome_of(exc.errno or 0))
                continue
            record["answered_at"] = time.time()
            record["received"] = chr(answer[0]) if answer else None
            _finish(selector, sock, record, "ok" if answer else "closed")
    for key in list(selector.get_map().values()):
        _finish(selector, key.fileobj, records[key.data], "timeout")  # type: ignore[arg-type]
    return records


def _finish(selector: selectors.BaseSelector, sock: socket.socket, record: dict[str, Any], outcome: str) -> None:
    record["outcome"] = outcome
    if outcome != "ok":
        record["failed_at"] = time.time()
    emit("finished", client=record["client"], outcome=outcome)
    selector.unregister(sock)
    sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m probes.burst")
    parser.add_argument("--server", default="server")
    parser.add_argument("--port", type=int, default=9736)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--char", default="A")
    parser.add_argument("--timeout", type=float, default=30.0, help="give up on every client after this long")
    args = parser.parse_args()
    address = socket.gethostbyname(args.server)
    records = run(address, args.port, args.count, ord(args.char), args.timeout)
    emit("done", server=f"{address}:{args.port}", clients=records)


if __name__ == "__main__":
    main()
