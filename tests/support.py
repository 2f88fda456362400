"""Helpers for the fast tests: a real server process on a loopback port, watched through its log."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class ServerProcess:
    """``python -m server`` on 127.0.0.1, port 0 (or a Unix socket); readiness is its 'listening on' log line."""

    def __init__(
        self, *args: str, env: dict[str, str] | None = None, preexec_fn: Callable[[], None] | None = None
    ) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server",
                "--bind",
                "127.0.0.1",
                "--port",
                "0",
                "--no-resolve-names",
                "--log-probes",
                *args,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            preexec_fn=preexec_fn,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.port = 0
        self.where = ""  # where it listens: 127.0.0.1:port, [::1]:port or a socket path
        self._ended = False

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """The first new log line matching ``pattern``; fails with the whole log if none comes in time."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no log line matching {pattern!r} in {timeout} s:\n" + self.log()) from None
            if line is None:
                self._ended = True
                raise AssertionError(f"server exited before logging {pattern!r}:\n" + self.log())
            self.lines.append(line)
            if match := regex.search(line):
                return match

    def start(self) -> ServerProcess:
        self.where = self.wait_for(r"listening on (\S+) \(")[1]
        self.port = int(self.where.rsplit(":", 1)[1]) if ":" in self.where else 0
        return self

    def log(self) -> str:
        return "\n".join(self.lines)

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        # Collect the rest of the log for assertions made after exit.
        while not self._ended:
            line = self._queue.get(timeout=5)
            if line is None:
                self._ended = True
            else:
                self.lines.append(line)
