"""Start-up cost of each server version: image size, ``docker run`` to first answer, compose demo.

Why: the lab starts a fresh server for every run and test, so start-up is the time every user pays
first. The floor is a bare ``python3 -c pass`` in socklab/base, which has no server in it at all: what is
above that floor is the server's own start (imports, bind, listen), the rest is Docker's.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import docker
import docker.errors
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from socklab.bench.stage import Stage
from socklab.bench.startup import FLOOR, StartupRow, compose_up, floor, image_sizes, run_to_first_answer
from socklab.bench.tables import (
    CLIENT_IMAGE,
    SERVER_VERSIONS,
    ImageLog,
    Spread,
    fmt,
    markdown_table,
    server_image,
    write_results,
)
from socklab.images.rootfs import BASE_TAG
from socklab.progress import Progress, to_stderr

SIZE_TAGS = (
    *(server_image(v) for v in ("latest", *SERVER_VERSIONS)),
    CLIENT_IMAGE,
    "socklab/client:c",
    BASE_TAG,
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="socklab bench startup", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="docker-run-to-first-answer runs per version")
    parser.add_argument("--compose-repeat", type=int, default=3, help="compose demo runs per delay")
    parser.add_argument(
        "--compose-delays",
        type=float,
        nargs="+",
        default=[0.0, 5.0],
        help="the server delays (seconds) of the demos timed",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="give up on one start after this many seconds")
    parser.add_argument("--no-compose", action="store_true", help="skip the compose demo part")
    return parser.parse_args(argv)


# --- docker run to first answer, against the floor ------------------------------------------------------
def startup_rows(stage: Stage, repeat: int, timeout: float, images: ImageLog, progress: Progress) -> list[StartupRow]:
    rows = []
    for version in SERVER_VERSIONS:
        image = server_image(version)
        times = []
        for k in range(repeat):
            times.append(run_to_first_answer(stage, version, timeout, images))
            progress(f"{image} run {k + 1}/{repeat}: first answer after {times[-1]:.2f} s")
        rows.append(StartupRow(version, times, image=image))
    floors = [floor(stage, timeout) for _ in range(repeat)]
    progress(f"floor: {', '.join(f'{t:.2f}' for t in floors)} s")
    rows.append(StartupRow(FLOOR, floors, image=BASE_TAG))
    return rows


# --- compose demo ---------------------------------------------------------------------------------------
def compose_retrying(stage: Stage, delay: float, progress: Progress) -> float:
    """One compose demo (3 clients), once more if the demo's watcher lost a race with Docker: listing
    containers inspects each one, and a container that vanishes in between raises NotFound (seen once in ~10
    runs)."""
    for attempt in (1, 2):
        try:
            row = compose_up(stage, 3, delay)
        except docker.errors.NotFound as exc:
            if attempt == 2:
                raise
            progress(f"compose run hit a Docker race ({exc.explanation}); retrying once")
            continue
        if not row.ok:
            raise RuntimeError(f"compose demo failed: {row.note} answered")
        return row.seconds[0]
    raise AssertionError("unreachable")


def compose_rows(stage: Stage, delays: Sequence[float], repeat: int, progress: Progress) -> list[tuple[float, Spread]]:
    rows = []
    for delay in delays:
        times = []
        for k in range(repeat):
            times.append(compose_retrying(stage, delay, progress))
            progress(f"compose delay {delay:g} run {k + 1}/{repeat}: {times[-1]:.2f} s")
        rows.append((delay, Spread.of(times)))
    return rows


# --- report ---------------------------------------------------------------------------------------------
def render(
    sizes: list[tuple[str, float]],
    starts: list[StartupRow],
    compose: list[tuple[float, Spread]],
    args: argparse.Namespace,
    images: ImageLog,
) -> str:
    parts = [
        "## Image sizes\n",
        markdown_table(["image", "size (MB)"], [(f"`{tag}`", fmt(mb, 1 if mb >= 1 else 3)) for tag, mb in sizes]),
        f"\n## docker run → first answer (delay 0; {args.repeat} runs each, seconds)\n",
        markdown_table(
            ["server", "image", "median", "min", "max"],
            [(r.what, f"`{r.image}`", fmt(r.spread.median), fmt(r.spread.low), fmt(r.spread.high)) for r in starts],
        ),
    ]
    if compose:
        parts += [
            f"\n## compose demo: `up` → 3 answers ({args.compose_repeat} runs each, seconds)\n",
            markdown_table(
                ["delay (s)", "median", "min", "max", "median − delay"],
                [(f"{d:g}", fmt(s.median), fmt(s.low), fmt(s.high), fmt(s.median - d)) for d, s in compose],
            ),
        ]
    parts += [f"\n{images.markdown()}", "\n![docker run to first answer](startup.png)"]
    return "\n".join(parts)


def plot(starts: list[StartupRow]) -> object:
    """Median bars with min–max whiskers, the floor in grey."""
    figure, axes = plt.subplots(figsize=(7, 3.8))
    names = [r.what.replace("floor: ", "floor\n") for r in starts]
    medians = [r.spread.median for r in starts]
    errors = [
        [r.spread.median - r.spread.low for r in starts],
        [r.spread.high - r.spread.median for r in starts],
    ]
    colours = ["tab:blue"] * (len(starts) - 1) + ["tab:gray"]
    axes.bar(names, medians, yerr=errors, capsize=4, color=colours)
    for x, value in enumerate(medians):
        axes.annotate(f"{value:.2f}", (x, value), textcoords="offset points", xytext=(8, 3), fontsize=8)
    axes.set_ylabel("seconds (median, min–max)")
    axes.set_title("docker run → first answer (delay 0)")
    figure.tight_layout()
    return figure


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    progress = to_stderr("bench startup")
    images = ImageLog()
    with Stage() as stage:  # a Lab underneath: labelled, removed after a failure or Ctrl-C, reaped if killed
        sizes = list(image_sizes(stage.docker, list(SIZE_TAGS)).items())
        starts = startup_rows(stage, args.repeat, args.timeout, images, progress)
        compose = [] if args.no_compose else compose_rows(stage, args.compose_delays, args.compose_repeat, progress)
    markdown = render(sizes, starts, compose, args, images)
    print(markdown)
    md_path, png_path = write_results("startup", markdown, plot(starts))
    progress(f"wrote {md_path} and {png_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
