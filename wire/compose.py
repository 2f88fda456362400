"""The variables compose.yaml and stack.yaml read beyond the containers' own knobs.

The files pass ``SOCKLAB_DELAY``, ``SOCKLAB_PORT``, ``SOCKLAB_CHAR`` and ``SOCKLAB_CONNECT_DEADLINE`` on to
the containers (write those with ``ServerConfig``/``ClientConfig``); these are the files' own: which
images, the host's port (compose.yaml) and the number of client tasks (stack.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass

from .catalog import DEFAULT_PORT
from .knobs import Knobs, option, whole

__all__ = ["ComposeVariables"]


@dataclass(frozen=True)
class ComposeVariables(Knobs):
    server_image: str = option("socklab/server:latest", "the server service's image", env="SERVER_IMAGE")
    client_image: str = option("socklab/client:latest", "the client service's image", env="CLIENT_IMAGE")
    host_port: int = option(
        DEFAULT_PORT, "compose.yaml: the port on 127.0.0.1 that reaches the server", rule=whole(1, 65535)
    )
    # 0: the server alone, its clients deployed later (the swarm tests deploy so to cut only the exchange)
    clients: int = option(3, "stack.yaml: the client service's replicas", rule=whole(0))
