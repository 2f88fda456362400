"""The wire contract between the lab's containers and the host: what each side prints and reads.

Stdlib only: the server and client images copy this package beside their own code. Everything a host
reads from a container (the client's JSON result line, the server's ``served`` line) is written and read
here, with the names both sides must spell alike (models, transports, defaults, the start barrier), and
so is everything the host writes into a container: its environment, from ``wire.config``'s knobs.
"""

from __future__ import annotations

from .catalog import (
    CONTRACT_MODELS,
    DEFAULT_PORT,
    DEFAULT_SOCKET_PATH,
    GO_SIGNAL,
    LOG_MODES,
    MODELS,
    READY_LINE,
    SERVES,
    STREAM_TRANSPORTS,
    TEACHING_MODELS,
    TRANSPORTS,
    UnsupportedPair,
    check_pair,
    models_for,
    serves,
)
from .oracle import expected_reply
from .result import ClientResult, MalformedResult, parse_results
from .served import UNIX_PEER, Peer, ServedRecord, describe, format_stamp, parse_served, parse_served_log

__all__ = [
    "CONTRACT_MODELS",
    "DEFAULT_PORT",
    "DEFAULT_SOCKET_PATH",
    "GO_SIGNAL",
    "LOG_MODES",
    "MODELS",
    "READY_LINE",
    "SERVES",
    "STREAM_TRANSPORTS",
    "TEACHING_MODELS",
    "TRANSPORTS",
    "UNIX_PEER",
    "ClientResult",
    "MalformedResult",
    "Peer",
    "ServedRecord",
    "UnsupportedPair",
    "check_pair",
    "describe",
    "expected_reply",
    "format_stamp",
    "models_for",
    "parse_results",
    "parse_served",
    "parse_served_log",
    "serves",
]
