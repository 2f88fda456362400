"""One thread per connection.

The threads are daemons: on SIGTERM the drain waits for them until the grace period ends, and a thread
still serving then (a client that takes its time) cannot hold the process's exit past it.
"""

from __future__ import annotations

import threading
import time

from ..config import ServerConfig
from ..core import Server
from ..handler import Connection
from ..log import Log


class ThreadingMixIn(Server):
    model = "thread"

    def __init__(self, config: ServerConfig, log: Log | None = None) -> None:
        super().__init__(config, log)
        self.threads: set[threading.Thread] = set()

    def process_request(self, conn: Connection) -> None:
        thread = threading.Thread(
            target=self.finish_request,
            args=(conn,),
            name=f"conn-{conn.peer[0]}:{conn.peer[1]}",
            daemon=True,  # the drain bounds the wait; see the module's docstring
        )
        self.threads.add(thread)
        thread.start()

    def finish_request(self, conn: Connection) -> None:
        try:
            super().finish_request(conn)
        finally:
            self.descriptor_freed()

    def service_actions(self) -> None:
        self.threads = {t for t in self.threads if t.is_alive()}

    def in_flight(self) -> int:
        self.service_actions()
        return len(self.threads)

    def drain(self, deadline: float) -> int:
        for thread in list(self.threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        self.service_actions()
        return len(self.threads)


class ThreadingServer(ThreadingMixIn, Server):
    """One thread per connection."""
