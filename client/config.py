"""The client's knobs: ``wire.config.ClientConfig``, the class the host writes the environment from too."""

from __future__ import annotations

from wire.config import ClientConfig

__all__ = ["ClientConfig"]
