"""Building the lab's images with the classic builder (no BuildKit here), through the docker SDK."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import docker
import docker.errors

from server import __version__

from .base import BASE_TAG, base_exists, build_base
from .paths import ROOT
from .progress import Progress, quiet

SERVER_REPOSITORY = "socklab/server"
CLIENT_REPOSITORY = "socklab/client"


class BuildFailed(RuntimeError):
    """``docker build`` failed; the message carries the builder's last lines."""


@dataclass(frozen=True)
class ImageSpec:
    tag: str
    dockerfile: str
    buildargs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageSet:
    server: str
    client: str


def lab_specs(*, base_image: str, repository_prefix: str = "socklab", tag: str = "latest") -> list[ImageSpec]:
    """The Python server and client images, built FROM ``base_image``."""
    common = {"BASE_IMAGE": base_image, "VERSION": __version__}
    return [
        ImageSpec(f"{repository_prefix}/server:{tag}", "Dockerfile.server", {**common, "MODEL": "fork"}),
        ImageSpec(f"{repository_prefix}/client:{tag}", "Dockerfile.client", common),
    ]


def ensure_base(client: docker.DockerClient, base_image: str, progress: Progress = quiet) -> None:
    """Build ``socklab/base`` when it is the base and missing; another base is the builder's to find."""
    if base_image == BASE_TAG and not base_exists(client, base_image):
        progress(f"{BASE_TAG} is missing: building it from Debian packages (once)")
        build_base(client, tag=BASE_TAG, progress=progress)


def build(
    client: docker.DockerClient,
    spec: ImageSpec,
    *,
    labels: dict[str, str] | None = None,
    progress: Progress = quiet,
) -> None:
    progress(f"building {spec.tag} ({spec.dockerfile})")
    started = time.monotonic()
    try:
        image, _logs = client.images.build(
            path=str(ROOT),
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
    size = (image.attrs.get("Size") or 0) / 1e6
    progress(f"built {spec.tag}: {size:.1f} MB in {time.monotonic() - started:.1f} s")


def build_images(
    client: docker.DockerClient,
    *,
    base_image: str = BASE_TAG,
    repository_prefix: str = "socklab",
    tag: str = "latest",
    labels: dict[str, str] | None = None,
    progress: Progress = quiet,
) -> ImageSet:
    """Build the server and client images (and the base first when needed); return their tags."""
    ensure_base(client, base_image, progress)
    specs = lab_specs(base_image=base_image, repository_prefix=repository_prefix, tag=tag)
    for spec in specs:
        build(client, spec, labels=labels, progress=progress)
    return ImageSet(server=specs[0].tag, client=specs[1].tag)
