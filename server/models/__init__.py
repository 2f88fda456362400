"""Concurrency models: each a small mixin over ``core.Server``, combined with a transport in one line.

A model's module is imported only when that model runs: a forking server copies its whole address
space for every connection, and asyncio with ssl alone was a third of it (measured: a fork costs the
parent ~30 µs and the child ~90 µs more per MB of the parent's memory on this machine). The thread
model's module too: importing ``threading`` adds an at-fork hook that runs in every forked child.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module

from ..core import Server
from ..transports import TRANSPORTS
from .fork import ForkingMixIn


class ForkingServer(ForkingMixIn, Server):
    """One child process per connection: the original C design."""


class SerialServer(Server):
    """One connection at a time: the iterative server, kept to show what concurrency buys.

    It accepts a connection only when it is done with the last one, as the textbook's loop does: the clients
    that come meanwhile wait in the kernel's accept queue (``listen(5)`` holds 6), and the SYN of one beyond
    it is dropped and sent again by its kernel 1, 3, 7… s later, which ``--kernel`` shows.
    """

    accept_batch = 1


# model -> "module:Class", the module relative to this package ("" for this one): imported on first use.
SERVERS: Mapping[str, str] = {
    "fork": ":ForkingServer",
    "thread": "thread:ThreadingServer",
    "serial": ":SerialServer",
    "async": "event_loop:AsyncServer",
    "epoll": "epoll:EpollServer",
}


def __getattr__(name: str) -> type[Server]:
    """``from server.models import ThreadingServer`` still works, importing threading only then."""
    for model, where in SERVERS.items():
        if where.endswith(f":{name}"):
            return model_class(model)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def model_class(model: str) -> type[Server]:
    """The class of ``model``, importing its module now."""
    module, _, name = SERVERS[model].partition(":")
    found = getattr(import_module(f"{__name__}.{module}"), name) if module else globals()[name]
    assert isinstance(found, type) and issubclass(found, Server)
    return found


def server_class(model: str, transport: str) -> type[Server]:
    """The server for ``model`` on ``transport``: the model's class with its ``transport`` attribute set.

    The pair must be one that wire.SERVES lists (the configuration checks it). By hand it is one line:
    ``class UnixForkingServer(ForkingServer): transport = UNIX``.
    """
    base = model_class(model)
    if transport == base.transport.name:
        return base
    return type(f"{transport.capitalize()}{base.__name__}", (base,), {"transport": TRANSPORTS[transport]})
