"""Concurrency models: each a small mixin over ``core.Server``, combined with a transport in one line."""

from __future__ import annotations

from ..core import Server
from ..transports import TRANSPORTS
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


def server_class(model: str, transport: str) -> type[Server]:
    """The server for ``model`` on ``transport``: the model's class with its ``transport`` attribute set.

    The pair must be one that wire.SERVES lists (the configuration checks it). By hand it is one line:
    ``class UnixForkingServer(ForkingServer): transport = UNIX``.
    """
    base = SERVERS[model]
    if transport == base.transport.name:
        return base
    return type(f"{transport.capitalize()}{base.__name__}", (base,), {"transport": TRANSPORTS[transport]})
