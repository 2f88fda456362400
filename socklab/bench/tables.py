"""What `socklab bench backlog` and `socklab bench startup` share: statistics, tables, files, labels, one exchange.

Kept apart so that the two scripts report numbers the same way (same percentile rule, same table shape)
and so that every Docker object a benchmark makes outside ``socklab.Lab`` carries the same labels.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from socklab.images.build import contract_versions
from socklab.lab.labels import run_labels
from socklab.load.python_load import exchange
from socklab.load.stats import Spread, percentile
from socklab.paths import ROOT

__all__ = ["Spread", "exchange", "percentile"]  # moved to socklab.load; kept here for the scripts

RESULTS = ROOT / "docs" / "bench"  # beside the docs that cite them
OWNER_LABEL = "io.socklab.owner"
OWNER = "bench-helper"
SERVER_VERSIONS = contract_versions()  # the versions of `bench backlog` and `bench startup`: the contract's
SERVER_REPOSITORY = "socklab/server"
CLIENT_IMAGE = "socklab/client:latest"


def server_image(version: str) -> str:
    return f"{SERVER_REPOSITORY}:{version}"


def bench_labels(run_id: str) -> dict[str, str]:
    """socklab's run labels (so ``socklab.labels.remove_run`` finds them) plus the benchmark's owner tag."""
    return {**run_labels(run_id, "bench"), OWNER_LABEL: OWNER}


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub Markdown table; numbers already formatted by the caller."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, markdown: str, figure: object) -> tuple[Path, Path]:
    """Write ``results/NAME.md`` and ``results/NAME.png``; the Markdown is exactly what stdout got."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    md_path, png_path = RESULTS / f"{name}.md", RESULTS / f"{name}.png"
    md_path.write_text(markdown + "\n")
    figure.savefig(png_path, dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
    return md_path, png_path


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send file descriptor 1 to stderr for a while: child processes (``docker compose up``) inherit
    stdout, and stdout must stay the Markdown table alone."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def free_local_port() -> int:
    """A port free on 127.0.0.1 now (bind to 0), so a compose run never collides with a demo on 9736."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fmt(value: float, digits: int = 2) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


class ImageLog:
    """Which image ID each server version actually ran as. Tags move when someone rebuilds during a
    run (it happened while these benchmarks were written), so the results name the IDs they measured."""

    def __init__(self) -> None:
        self.ids: dict[str, set[str]] = {}

    def note(self, version: str, image_id: str) -> None:
        self.ids.setdefault(version, set()).add(image_id.removeprefix("sha256:")[:12])

    def markdown(self) -> str:
        parts = [f"{version} `{'`/`'.join(sorted(ids))}`" for version, ids in self.ids.items()]
        line = "Server image IDs measured: " + ", ".join(parts) + "."
        if any(len(ids) > 1 for ids in self.ids.values()):
            line += " **A tag moved during the run (rebuilt): rows mix images.**"
        return line
