"""One thread per connection. Threads are not daemons: shutdown waits for them (up to the grace)."""

from __future__ import annotations

import socket
import threading
import time


class ThreadingMixIn:
    model = "thread"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        self.threads: set[threading.Thread] = set()

    def process_request(self, conn: socket.socket, address: tuple) -> None:
        thread = threading.Thread(
            target=self.finish_request,  # type: ignore[attr-defined]
            args=(conn, address),
            name=f"conn-{address[0]}:{address[1]}",
            daemon=True,  # the drain below bounds the wait; a daemon cannot hold the exit forever
        )
        self.threads.add(thread)
        thread.start()

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
