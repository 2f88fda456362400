"""The scenarios' lab tests: the repository's own scenario files, run against this session's images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from socklab.images.build import ImageSet
from support_scenarios import EXAMPLES, with_images


@pytest.fixture
def example(tmp_path: Path, lab_images: ImageSet) -> Any:
    """``example("class-demo")``: the repository's scenario file, on this session's images, in tmp_path."""

    def copy(name: str) -> Path:
        path = tmp_path / f"{name}.scenario.yaml"
        path.write_text(with_images((EXAMPLES / f"{name}.scenario.yaml").read_text(), lab_images))
        return path

    return copy
