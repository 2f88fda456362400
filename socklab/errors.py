"""Docker's errors, translated in one place into what a user can act on.

The docker SDK raises a handful of exception types for very different situations: the engine is not
running, an image is missing (and, with no registry, cannot be pulled), a name is taken, the engine
refused a request. ``explain`` turns each into one sentence that says what to do; the CLI prints it.
"""

from __future__ import annotations

import docker
import docker.errors
import requests


class SocklabError(Exception):
    """An error socklab explains itself; its message is the whole story for the user."""


class MissingImage(SocklabError):
    """An image is not on this engine, and this machine cannot pull it."""

    def __init__(self, image: str) -> None:
        self.image = image
        hint = (
            "build the project's images with `socklab images` (or `make images`)"
            if image.startswith(("socklab/", "socklab-test/"))
            else "build it here, or `docker load -i FILE` an image saved elsewhere with `docker save`"
        )
        super().__init__(f"image {image} is not on this Docker engine and cannot be pulled here: {hint}")


class EngineUnreachable(SocklabError):
    """The Docker engine cannot be reached at all."""


def require_image(client: docker.DockerClient, image: str) -> None:
    """Raise MissingImage unless ``image`` is on the engine (the SDK would otherwise try to pull it)."""
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound as exc:
        raise MissingImage(image) from exc


def engine() -> docker.DockerClient:
    """A docker client that has answered a ping; EngineUnreachable says why not."""
    try:
        client = docker.from_env()
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineUnreachable(
            f"cannot reach the Docker engine ({exc}); is dockerd running and is DOCKER_HOST right?"
        ) from exc
    return client


def explain(exc: BaseException) -> str:
    """One line a user can act on, for any error raised while using Docker."""
    if isinstance(exc, SocklabError):
        return str(exc)
    if isinstance(exc, docker.errors.ImageNotFound):
        return f"an image is missing and cannot be pulled here ({exc.explanation}); build it with `socklab images`"
    if isinstance(exc, docker.errors.APIError):
        text = str(exc.explanation or exc)
        if "pull access denied" in text or "manifest unknown" in text or "failed to resolve reference" in text:
            return f"an image is not here and no registry can be reached ({text}); build it or `docker load` it"
        if exc.status_code == 409:
            return f"a name is already in use on the engine ({text}); `socklab clean` removes what old runs left"
        return f"the Docker engine refused: {text}"
    if isinstance(exc, docker.errors.BuildError):
        return f"docker build failed: {exc.msg}"
    if isinstance(exc, docker.errors.DockerException | requests.exceptions.ConnectionError):
        return f"cannot use the Docker engine: {exc}"
    return f"{type(exc).__name__}: {exc}"
