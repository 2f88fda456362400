"""The server's knobs: ``wire.config.ServerConfig``, the class the host writes the environment from too."""

from __future__ import annotations

from wire.config import ServerConfig

__all__ = ["ServerConfig"]
