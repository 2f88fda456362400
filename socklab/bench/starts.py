"""Start-up cost of each server version: image size, ``docker run`` to first answer, compose demo.

Why: the lab starts a fresh server for every run and test, so start-up is the time every user pays
first. The floor is a bare ``python3 -c pass`` in socklab/base, which has no server in it at all: what is
above that floor is the server's own start (imports, bind, listen), the rest is Docker's.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import docker
import docker.errors
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from socklab.bench.tables import (
    CLIENT_IMAGE,
    SERVER_VERSIONS,
    ImageLog,
    Spread,
    bench_labels,
    exchange,
    fmt,
    free_local_port,
    markdown_table,
    server_image,
    stdout_to_stderr,
    write_results,
)
from socklab.lab.demo import run_demo
from socklab.lab.lab import PORT
from socklab.lab.labels import new_run_id, remove_run
from socklab.progress import Progress, to_stderr
from socklab.wire.compose import ComposeVariables
from socklab.wire.config import ServerConfig

BASE_IMAGE = "socklab/base:latest"
SIZE_TAGS = (
    *(server_image(v) for v in ("latest", *SERVER_VERSIONS)),
    CLIENT_IMAGE,
    "socklab/client:c",
    BASE_IMAGE,
)
FLOOR = "floor: python3 -c pass"
POLL_SECONDS = 0.01  # between connection attempts while the server starts; small against the ~1 s measured


@dataclass(frozen=True)
class StartupRow:
    name: str
    image: str
    seconds: Spread


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


# --- (a) image sizes -------------------------------------------------------------------------------------
def image_sizes(client: docker.DockerClient) -> list[tuple[str, float]]:
    """``docker image inspect`` Size in MB (10^6 bytes, as ``docker images`` counts)."""
    sizes = []
    for tag in SIZE_TAGS:
        try:
            sizes.append((tag, client.images.get(tag).attrs["Size"] / 1e6))
        except docker.errors.ImageNotFound:
            sizes.append((tag, float("nan")))
    return sizes


# --- (b) docker run to first answer ------------------------------------------------------------------------
def wait_for_answer(address: str, deadline: float) -> None:
    """Poll-connect until one exchange succeeds: the server is up when it answers, not when it listens."""
    last: Exception | None = None
    while time.perf_counter() < deadline:
        try:
            exchange(address, PORT, timeout=1.0)
            return
        except OSError as exc:
            last = exc
            time.sleep(POLL_SECONDS)
    raise TimeoutError(f"no answer from {address}:{PORT} in time (last error: {last})")


def time_server_start(
    client: docker.DockerClient, version: str, labels: dict[str, str], timeout: float, images: ImageLog
) -> float:
    """Seconds from ``containers.run`` (create + start) to the first 'B', on a fresh labelled network."""
    network = client.networks.create(f"socklab-bench-{uuid.uuid4().hex[:8]}", labels=labels)
    container = None
    try:
        started = time.perf_counter()
        container = client.containers.run(
            server_image(version),
            detach=True,
            network=network.name,
            environment=ServerConfig(delay=0.0, port=PORT).to_env(),
            labels=labels,
        )
        container.reload()  # run() returns the create-time view: the address is known only after start
        images.note(version, container.attrs["Image"])
        address = container.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"]
        wait_for_answer(address, started + timeout)
        return time.perf_counter() - started
    finally:
        if container is not None:
            container.remove(force=True)
        network.remove()


def time_floor(client: docker.DockerClient, labels: dict[str, str], timeout: float) -> float:
    """Seconds from ``containers.run`` to the exit of ``python3 -c pass``: Docker's plus Python's start."""
    started = time.perf_counter()
    container = client.containers.run(BASE_IMAGE, ["python3", "-c", "pass"], detach=True, labels=labels)
    try:
        status = container.wait(timeout=timeout)["StatusCode"]
        elapsed = time.perf_counter() - started
    finally:
        container.remove(force=True)
    if status != 0:
        raise RuntimeError(f"python3 -c pass exited {status}")
    return elapsed


def startup_rows(
    client: docker.DockerClient,
    labels: dict[str, str],
    repeat: int,
    timeout: float,
    images: ImageLog,
    progress: Progress,
) -> list[StartupRow]:
    rows = []
    for version in SERVER_VERSIONS:
        image = server_image(version)
        times = []
        for k in range(repeat):
            times.append(time_server_start(client, version, labels, timeout, images))
            progress(f"{image} run {k + 1}/{repeat}: first answer after {times[-1]:.2f} s")
        rows.append(StartupRow(version, image, Spread.of(times)))
    floor = [time_floor(client, labels, timeout) for _ in range(repeat)]
    progress(f"floor: {', '.join(f'{t:.2f}' for t in floor)} s")
    rows.append(StartupRow(FLOOR, BASE_IMAGE, Spread.of(floor)))
    return rows


# --- (c) compose demo -----------------------------------------------------------------------------------
def time_compose(delay: float, timeout: float) -> float:
    """One ``run_demo`` (3 clients, default server image) under a private project name and host port."""
    project = f"socklab-bench-{uuid.uuid4().hex[:8]}"
    env = {**ServerConfig(delay=delay).to_env(), **ComposeVariables(host_port=free_local_port()).to_env()}
    with stdout_to_stderr():  # `docker compose up` prints to the inherited stdout
        result = run_demo(clients=3, project=project, env=env, timeout=timeout + delay)
    if not result.ok or len(result.answers) != 3 or not all("char from server = B" in a.line for a in result.answers):
        raise RuntimeError(f"compose demo failed: {result.answers}")
    return result.seconds


def time_compose_retrying(delay: float, timeout: float, progress: Progress) -> float:
    """``time_compose``, once more if the demo's watcher lost a race with Docker: listing containers
    inspects each one, and a container that vanishes in between raises NotFound (seen once in ~10 runs)."""
    try:
        return time_compose(delay, timeout)
    except docker.errors.NotFound as exc:
        progress(f"compose run hit a Docker race ({exc.explanation}); retrying once")
        return time_compose(delay, timeout)


def compose_rows(
    delays: Sequence[float], repeat: int, timeout: float, progress: Progress
) -> list[tuple[float, Spread]]:
    rows = []
    for delay in delays:
        times = []
        for k in range(repeat):
            times.append(time_compose_retrying(delay, timeout, progress))
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
            [(r.name, f"`{r.image}`", fmt(r.seconds.median), fmt(r.seconds.low), fmt(r.seconds.high)) for r in starts],
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
    names = [r.name.replace("floor: ", "floor\n") for r in starts]
    medians = [r.seconds.median for r in starts]
    errors = [
        [r.seconds.median - r.seconds.low for r in starts],
        [r.seconds.high - r.seconds.median for r in starts],
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
    run_id = new_run_id()
    labels = bench_labels(run_id)
    client = docker.from_env()
    images = ImageLog()
    try:
        sizes = image_sizes(client)
        starts = startup_rows(client, labels, args.repeat, args.timeout, images, progress)
        compose = [] if args.no_compose else compose_rows(args.compose_delays, args.compose_repeat, 60.0, progress)
    finally:
        remove_run(client, run_id, images=False)  # the safety net after a failure or Ctrl-C
        client.close()
    markdown = render(sizes, starts, compose, args, images)
    print(markdown)
    md_path, png_path = write_results("startup", markdown, plot(starts))
    progress(f"wrote {md_path} and {png_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
