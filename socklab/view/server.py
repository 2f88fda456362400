"""The view server in a thread of this process: uvicorn serving ``app`` on 127.0.0.1.

    with ViewServer("run.jsonl", port=0) as view:   # 0: a free port
        print(view.url)

The socket is bound here, before uvicorn starts, so a taken port is one clear error and ``port=0`` has
its number at once. ``stop()`` ends the event streams first (a browser would otherwise hold the shutdown).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn

from socklab.view.app import create_app
from socklab.view.options import DEFAULT_PORT as LIVE_VIEW_PORT

HOST = "127.0.0.1"
DEFAULT_PORT = LIVE_VIEW_PORT
START_SECONDS = 10.0


class ViewError(RuntimeError):
    """The view could not be served (the port is taken)."""


def bind(port: int, host: str = HOST) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ViewError(f"cannot serve the view on {host}:{port}: {exc.strerror}; --port 0 picks a free port") from exc
    sock.listen(128)
    return sock


class ViewServer:
    """The live view of the event log ``log``, served from a daemon thread."""

    def __init__(self, log: str | Path, *, port: int = DEFAULT_PORT, host: str = HOST) -> None:
        self.log = Path(log)
        self.host = host
        self._socket = bind(port, host)
        self.port: int = self._socket.getsockname()[1]
        self._stop = threading.Event()
        config = uvicorn.Config(
            create_app(self.log, stop=self._stop),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name=f"socklab-view-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def _serve(self) -> None:
        self._server.run(sockets=[self._socket])

    def start(self) -> ViewServer:
        self._thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ViewError(f"the view server did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(START_SECONDS)
        with contextlib.suppress(OSError):
            self._socket.close()

    def wait(self, seconds: float | None = None) -> None:
        """Serve until ``seconds`` have passed (None: until Ctrl-C, which raises KeyboardInterrupt here)."""
        self._thread.join(seconds)

    def __enter__(self) -> ViewServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
