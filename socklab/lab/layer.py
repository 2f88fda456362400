"""A layer over an empty ``Lab``: the experiments' and the benchmark's stages are two.

Entering the layer starts its lab; leaving it removes everything the lab made (also after an error or
Ctrl-C). A layer adds what its own containers mean (probe events, cgroup readings), never how they run.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

import docker

from socklab.lab.lab import Lab


class OnLab:
    """``with Layer(...) as layer:``: ``layer.lab`` is started inside, removed after."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    @property
    def run_id(self) -> str:
        return self.lab.run_id

    @property
    def docker(self) -> docker.DockerClient:
        return self.lab.docker

    def __enter__(self) -> Self:
        self.lab.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.lab.__exit__(exc_type, exc, tb)
