"""Building the lab's images with the classic builder (no BuildKit here), through the docker SDK.

Every server version is a tag of ``socklab/server``: ``fork`` (also ``latest``), ``thread`` and ``async``
from the one Dockerfile.server (its MODEL build argument), and ``c-fork``, the original C program built
statically on the host and packaged FROM scratch. ``serial`` serves one connection at a time: it breaks
the concurrency rule on purpose, for comparison. Clients: ``socklab/client:latest`` and ``:c``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors

from server import __version__
from socklab.images.rootfs import BASE_TAG, base_exists, build_base
from socklab.paths import ROOT
from socklab.progress import Progress, quiet

PYTHON_MODELS = ("fork", "thread", "async", "epoll")  # the versions that keep the contract
TEACHING_MODELS = ("serial",)  # one connection at a time: built to show what concurrency buys
PEERS = ROOT / "peers"


class BuildFailed(RuntimeError):
    """``docker build`` (or the C build before it) failed; the message carries the last lines."""


@dataclass(frozen=True)
class ImageSpec:
    tag: str
    dockerfile: str
    buildargs: dict[str, str] = field(default_factory=dict)
    context: Path = ROOT
    also: tuple[str, ...] = ()  # further tags for the same image


@dataclass(frozen=True)
class ImageSet:
    """The tags one build produced: every server version by name, and the clients."""

    servers: dict[str, str]  # version ("fork", "thread", "async", "c-fork") -> tag
    clients: dict[str, str]  # "python", "c" -> tag

    @property
    def server(self) -> str:
        return self.servers["fork"]

    @property
    def client(self) -> str:
        return self.clients["python"]


def _tag(repository: str, name: str, session: str) -> str:
    return f"{repository}:{session}-{name}" if session else f"{repository}:{name}"


def python_specs(*, base_image: str, repository_prefix: str, session: str = "") -> list[ImageSpec]:
    common = {"BASE_IMAGE": base_image, "VERSION": __version__}
    server, client = f"{repository_prefix}/server", f"{repository_prefix}/client"
    specs = [
        ImageSpec(
            _tag(server, model, session),
            "Dockerfile.server",
            {**common, "MODEL": model},
            also=(f"{server}:latest",) if model == "fork" and not session else (),
        )
        for model in (*PYTHON_MODELS, *TEACHING_MODELS)
    ]
    specs.append(ImageSpec(_tag(client, "python" if session else "latest", session), "Dockerfile.client", common))
    return specs


def c_specs(*, repository_prefix: str, session: str = "") -> list[ImageSpec]:
    args = {"VERSION": __version__}
    return [
        ImageSpec(_tag(f"{repository_prefix}/server", "c-fork", session), "Dockerfile.server", args, context=PEERS),
        ImageSpec(_tag(f"{repository_prefix}/client", "c", session), "Dockerfile.client", args, context=PEERS),
        ImageSpec(_tag(f"{repository_prefix}/server", "c-epoll", session), "Dockerfile.epoll", args, context=PEERS),
        ImageSpec(_tag(f"{repository_prefix}/loadgen", "c", session), "Dockerfile.loadgen", args, context=PEERS),
    ]


def ensure_base(client: docker.DockerClient, base_image: str, progress: Progress = quiet) -> None:
    """Build ``socklab/base`` when it is the base and missing; another base is the builder's to find."""
    if base_image == BASE_TAG and not base_exists(client, base_image):
        progress(f"{BASE_TAG} is missing: building it from Debian packages (once)")
        build_base(client, tag=BASE_TAG, progress=progress)


def _ensure_musl(progress: Progress) -> None:
    """musl-gcc, for static C binaries that resolve names FROM scratch (static glibc cannot)."""
    if shutil.which("musl-gcc"):
        return
    progress("musl-gcc is missing: apt-get install musl-tools")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "musl-tools"]
    if subprocess.run(install, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=False)
        done = subprocess.run(install, capture_output=True, text=True)
        if done.returncode != 0:
            raise BuildFailed(f"cannot install musl-tools (needs root and apt): {done.stderr[-1000:]}")


def build_peers(progress: Progress = quiet) -> None:
    """Compile the C witnesses (peers/build/server, peers/build/client)."""
    _ensure_musl(progress)
    done = subprocess.run(["make", "-C", str(PEERS), "--no-print-directory"], capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildFailed(f"building the C peers failed:\n{(done.stdout + done.stderr)[-2000:]}")


def build(
    client: docker.DockerClient,
    spec: ImageSpec,
    *,
    labels: dict[str, str] | None = None,
    progress: Progress = quiet,
) -> None:
    progress(f"building {spec.tag} ({spec.context.name}/{spec.dockerfile})")
    started = time.monotonic()
    try:
        image, _logs = client.images.build(
            path=str(spec.context),
            dockerfile=spec.dockerfile,
            tag=spec.tag,
            buildargs=spec.buildargs,
            labels=labels or {},
            rm=True,
            forcerm=True,
            pull=False,
        )
    except docker.errors.BuildError as exc:
        tail = "".join(str(line.get("stream", line.get("error", ""))) for line in exc.build_log)[-2000:]
        raise BuildFailed(f"building {spec.tag} failed: {exc.msg}\n{tail}") from exc
    for extra in spec.also:
        repository, _, extra_tag = extra.rpartition(":")
        image.tag(repository, extra_tag)
    size = (image.attrs.get("Size") or 0) / 1e6
    also = f" (also {', '.join(spec.also)})" if spec.also else ""
    progress(f"built {spec.tag}{also}: {size:.1f} MB in {time.monotonic() - started:.1f} s")


def build_images(
    client: docker.DockerClient,
    *,
    base_image: str = BASE_TAG,
    repository_prefix: str = "socklab",
    session: str = "",
    labels: dict[str, str] | None = None,
    with_c: bool = True,
    progress: Progress = quiet,
) -> ImageSet:
    """Build every server version and both clients; return their tags.

    With no ``session`` the tags are the user's (``socklab/server:fork``, ``:latest``, …); a test session
    passes its id and gets ``socklab-test/server:<id>-fork``, so it never touches the user's images.
    """
    ensure_base(client, base_image, progress)
    specs = python_specs(base_image=base_image, repository_prefix=repository_prefix, session=session)
    if with_c:
        build_peers(progress)
        specs += c_specs(repository_prefix=repository_prefix, session=session)
    for spec in specs:
        build(client, spec, labels=labels, progress=progress)
    names = (*PYTHON_MODELS, *TEACHING_MODELS, "c-fork", "c-epoll")
    servers = {name: _tag(f"{repository_prefix}/server", name, session) for name in names}
    clients = {"python": _tag(f"{repository_prefix}/client", "python" if session else "latest", session)}
    clients["c"] = _tag(f"{repository_prefix}/client", "c", session)
    if not with_c:
        del servers["c-fork"], servers["c-epoll"], clients["c"]
    return ImageSet(servers=servers, clients=clients)
