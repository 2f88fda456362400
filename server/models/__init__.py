"""Concurrency models: each a small mixin over ``core.Server``, combined in one line."""

from __future__ import annotations

from ..core import Server
from .event_loop import AsyncServer
from .fork import ForkingMixIn
from .thread import ThreadingMixIn


class ForkingServer(ForkingMixIn, Server):
    """One child process per connection: the original C design."""


class ThreadingServer(ThreadingMixIn, Server):
    """One thread per connection."""


class SerialServer(Server):
    """One connection at a time: the iterative server, kept to show what concurrency buys."""


SERVERS: dict[str, type[Server]] = {
    "fork": ForkingServer,
    "thread": ThreadingServer,
    "serial": SerialServer,
    "async": AsyncServer,
}
