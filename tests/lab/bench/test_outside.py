"""`socklab bench outside` on real containers with the real tool (tcpkali on PATH; `-m heavy`, ~1 min)."""

from __future__ import annotations

import math
import shutil

import pytest

from socklab.bench.outside import OutsideOptions, with_socklab, with_tool
from socklab.bench.stage import Stage

pytestmark = [pytest.mark.lab, pytest.mark.heavy]


@pytest.mark.skipif(shutil.which("tcpkali") is None, reason="tcpkali is not on PATH (docs/bench.md: how to build it)")
def test_the_outside_tool_and_socklabs_loader_are_read_the_same_way(stage: Stage) -> None:
    options = OutsideOptions(seconds=3.0, connections=32, connect_rate=500)
    tool = with_tool(stage, "c-epoll", options)
    assert tool.answers > 0  # the tool itself saw answers (bytes received, one per connection)
    assert tool.per_second > 0 and 0 < tool.cpu_us_per_connection < math.inf
    own = with_socklab(stage, "c-epoll", tool.per_second, options.seconds)
    assert own.answers > 0 and own.per_second > 0 and 0 < own.cpu_us_per_connection < math.inf
