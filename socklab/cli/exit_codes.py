"""The host CLI's exit codes, named: scripts and CI branch on them."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the lab ran and something did not hold: a client failed, not concurrent, a request lost
    USAGE = 2  # a bad flag or SOCKLAB_* value
    NO_DOCKER = 3  # the Docker engine cannot be reached or refused what was asked
    BUILD_FAILED = 4
    NO_COMPOSE = 5
    MISSING_IMAGE = 6  # an image is not here and cannot be pulled (no registry)
    INTERRUPTED = 130
