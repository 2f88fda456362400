"""Helpers for the scenarios' lab tests: the repository's scenario files on this session's images, and
``socklab scenario run`` as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socklab.images.build import ImageSet
from socklab.paths import ROOT

EXAMPLES = ROOT / "scenarios"
SOCKLAB = str(Path(sys.executable).with_name("socklab"))


def with_images(text: str, images: ImageSet) -> str:
    """A scenario's text with the user's tags (socklab/server:fork, …) replaced by this session's."""
    for version, tag in images.servers.items():
        text = text.replace(f"socklab/server:{version}\n", f"{tag}\n").replace(f"socklab/server:{version} ", f"{tag} ")
    return text


@dataclass
class Ran:
    code: int
    journal: dict[str, Any]
    stderr: str

    def describe(self) -> str:
        runs = self.journal.get("runs", [])
        return f"exit {self.code}\n{json.dumps(runs, indent=1)[-6000:]}\n--- stderr ---\n{self.stderr[-4000:]}"


def scenario_run(path: Path, client_image: str, *args: str, timeout: float = 240) -> Ran:
    """``socklab scenario run PATH --json``, as a user runs it; its journal."""
    done = subprocess.run(
        [SOCKLAB, "scenario", "run", str(path), "--client-image", client_image, "--json", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    try:
        journal = json.loads(done.stdout)
    except json.JSONDecodeError:
        journal = {"stdout": done.stdout}
    return Ran(done.returncode, journal, done.stderr)
