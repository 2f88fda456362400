"""The names both sides must spell alike: models, transports, which model serves which, the defaults.

One source of truth: the server validates its configuration against these tables, the client takes its
defaults from them, and the host builds its images and checks from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

CONTRACT_MODELS: Final = ("fork", "thread", "async", "epoll")  # concurrent: they keep the contract
TEACHING_MODELS: Final = ("serial",)  # one connection at a time, kept to show what concurrency buys
MODELS: Final = (*CONTRACT_MODELS, *TEACHING_MODELS)

TRANSPORTS: Final = ("tcp", "unix", "udp")
STREAM_TRANSPORTS: Final = ("tcp", "unix")

# A datagram is not a connection: only the event loop answers many of them without a worker per datagram.
SERVES: Final[Mapping[str, tuple[str, ...]]] = {
    "fork": STREAM_TRANSPORTS,
    "thread": STREAM_TRANSPORTS,
    "async": TRANSPORTS,
    "epoll": STREAM_TRANSPORTS,
    "serial": STREAM_TRANSPORTS,
}

# connections: two lines per connection, the lesson's view; summary: one line a second (at 10,000
# connections a second, per-connection lines are the bottleneck, and dockerd's log driver pays too);
# off: only the start and stop lines. The C servers take the same words.
LOG_MODES: Final = ("connections", "summary", "off")

DEFAULT_PORT: Final = 9736
DEFAULT_SOCKET_PATH: Final = "/run/socklab/socklab.sock"

# The client's start barrier: it prints READY_LINE on stderr, then connects when it receives GO_SIGNAL
# (a signal name, as `docker kill --signal` takes it; signal.Signals[GO_SIGNAL] is the number).
READY_LINE: Final = "socklab client: ready, waiting for SIGUSR1"
GO_SIGNAL: Final = "SIGUSR1"


class UnsupportedPair(ValueError):
    """A model asked to serve a transport it does not serve."""


def serves(model: str, transport: str) -> bool:
    return transport in SERVES.get(model, ())


def models_for(transport: str) -> tuple[str, ...]:
    """The models that serve ``transport``, in the order of MODELS."""
    return tuple(model for model in MODELS if serves(model, transport))


def check_pair(model: str, transport: str) -> None:
    """UnsupportedPair, naming what would work, unless ``model`` serves ``transport``."""
    if model not in SERVES:
        raise UnsupportedPair(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    if transport not in TRANSPORTS:
        raise UnsupportedPair(f"unknown transport {transport!r}; choose one of {', '.join(TRANSPORTS)}")
    if not serves(model, transport):
        raise UnsupportedPair(
            f"model {model} does not serve {transport}; {transport} is served by {', '.join(models_for(transport))}"
        )
