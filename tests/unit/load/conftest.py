"""The C peers built on this machine (static musl, seconds), for tests that run them on loopback."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from socklab.paths import ROOT

PEERS_BUILD = ROOT / "agents" / "peers" / "build"


@pytest.fixture(scope="session")
def c_peers() -> Path:
    if not shutil.which("musl-gcc"):
        pytest.skip("musl-gcc is missing (apt-get install musl-tools, or `socklab images` installs it)")
    subprocess.run(["make", "-C", str(ROOT / "agents" / "peers"), "--no-print-directory", "-s"], check=True)
    return PEERS_BUILD
