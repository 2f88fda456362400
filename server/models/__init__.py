"""Concurrency models: each a small mixin over ``core.Server``, combined in one line.

A model's module is imported only when that model runs: a forking server copies its whole address
space for every connection, and asyncio with ssl alone is a third of it (measured: a fork costs the
parent ~30 µs and the child ~90 µs more per MB of the parent's memory on this machine).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module

from ..core import Server
from .fork import ForkingMixIn
from .thread import ThreadingMixIn


class ForkingServer(ForkingMixIn, Server):
    """One child process per connection: the original C design."""


class ThreadingServer(ThreadingMixIn, Server):
    """One thread per connection."""


class SerialServer(Server):
    """One connection at a time: the iterative server, kept to show what concurrency buys."""


# model -> "module:class" (module relative to this package, or "" for this one)
SERVERS: Mapping[str, str] = {
    "fork": ":ForkingServer",
    "thread": ":ThreadingServer",
    "serial": ":SerialServer",
    "async": "event_loop:AsyncServer",
    "epoll": "epoll:EpollServer",
}


def server_class(model: str) -> type[Server]:
    """The class that serves ``model``, importing its module now."""
    module, _, name = SERVERS[model].partition(":")
    if not module:
        return globals()[name]  # type: ignore[no-any-return]
    return getattr(import_module(f"{__name__}.{module}"), name)  # type: ignore[no-any-return]
