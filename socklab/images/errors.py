"""What can go wrong while building images; the CLI maps every one of them to exit code BUILD_FAILED."""

from __future__ import annotations


class BuildFailed(RuntimeError):
    """An image could not be built; the message says which step failed (with the output's tail)."""


class MissingTool(BuildFailed):
    """A build needs a host tool that is not installed; the message says how to install it."""
