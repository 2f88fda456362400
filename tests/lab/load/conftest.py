"""Load tests share one bench stage (a network with fixed addresses) per module; ``heavy`` ones run
only when asked for (``-m heavy``, see tests/conftest.py), since a hundred thousand connections take minutes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from socklab.bench.stage import Stage
from socklab.images.build import ImageSet


@pytest.fixture(scope="module")
def stage(request: pytest.FixtureRequest, lab_images: ImageSet, session_id: str) -> Iterator[Stage]:
    # Its own run id: leaving the stage removes its containers and network, and only those. Its images are the
    # run's (under xdist the controller built them once, under its own id).
    with Stage(
        "socklab-test",
        run_id=f"{session_id}-{request.module.__name__.rsplit('.', 1)[-1][:20]}",
        session=lab_images.session,
    ) as stage:
        yield stage
