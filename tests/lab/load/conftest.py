"""Load tests share one bench stage (a network with fixed addresses) per module; ``heavy`` ones run
only when asked for (``-m heavy``), since a hundred thousand connections take minutes on 2 cores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from socklab.bench.stage import Stage
from socklab.images.build import ImageSet


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "heavy" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="heavy: select with -m heavy")
    for item in items:
        if item.get_closest_marker("heavy"):
            item.add_marker(skip)


@pytest.fixture(scope="module")
def stage(request: pytest.FixtureRequest, lab_images: ImageSet, session_id: str) -> Iterator[Stage]:
    # Its own run id: leaving the stage removes its containers and network, and only those.
    with Stage(
        "socklab-test", run_id=f"{session_id}-{request.module.__name__.rsplit('.', 1)[-1][:20]}", session=session_id
    ) as stage:
        yield stage
