"""The lab's images from its Dockerfiles: one table of tags, the Python server built once.

Every server version is a tag of ``socklab/server``. The Python ones (``fork`` = ``latest``, ``thread``,
``async``; ``serial``, which breaks the concurrency rule on purpose) differ only by their model, so
Dockerfile.server is built once and each other model's tag is derived from that image with metadata
only (``FROM <id>``, the ``io.socklab.model`` label and the default ``SOCKLAB_MODEL``: no file changes,
the same size). ``c-fork`` is the original C program, built statically on the host and packaged FROM
scratch. Clients: ``socklab/client:latest`` and ``:c``. Independent builds run side by side.

The classic builder only (no BuildKit here), through the docker SDK.
"""

from __future__ import annotations

import ast
import hashlib
import tempfile
import time
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

import docker
import docker.errors
from docker.models.images import Image

from socklab.images.errors import BuildFailed
from socklab.images.peers import PEERS, build_peers
from socklab.images.rootfs import BASE_TAG, ensure_image
from socklab.paths import ROOT
from socklab.progress import Progress, quiet
from socklab.wire import CONTRACT_MODELS, MODELS, TEACHING_MODELS
from socklab.wire.config import ServerConfig

__all__ = [
    "DEFAULT_MODEL",
    "TABLE",
    "BuildFailed",
    "ImageSet",
    "ImageSpec",
    "Row",
    "build",
    "build_images",
    "built_from_tree",
    "contract_versions",
    "describe_table",
    "ensure_base",
    "select",
    "server_versions",
    "source_digest",
    "user_name",
    "user_tags",
]


def _tree_version() -> str:
    """The server's ``__version__``, read from the tree the images are built from (not imported: the server
    is a build context, not a package of the host)."""
    module = ast.parse((ROOT / "server" / "__init__.py").read_text())
    for node in module.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
            return str(ast.literal_eval(node.value))
    raise BuildFailed(f"no __version__ in {ROOT / 'server' / '__init__.py'}")


__version__ = _tree_version()  # the images' VERSION build argument and their version label

DEFAULT_MODEL = "fork"  # the original design: socklab/server:latest, and the model Dockerfile.server builds
MODEL_LABEL = "io.socklab.model"


@dataclass(frozen=True)
class Row:
    """One image socklab builds: which role, which version, where its tag comes from."""

    role: Literal["server", "client", "loadgen"]
    version: str  # "fork", …, "c-fork"; clients: "python", "c"
    source: Literal["python", "c"]
    user_tag: str  # the tag a user sees: socklab/<role>:<user_tag>
    model: str | None = None  # Python servers: the model its metadata names
    also: tuple[str, ...] = ()  # further user tags of the same image
    contract: bool = True  # keeps the contract (the test suite's default versions)
    dockerfile: str = ""  # default Dockerfile.<role>


#: Every image built from the tree, once. Model names come from ``wire.catalog``.
TABLE: tuple[Row, ...] = (
    *(
        Row(
            "server",
            model,
            "python",
            model,
            model=model,
            also=("latest",) if model == DEFAULT_MODEL else (),
            contract=model in CONTRACT_MODELS,
        )
        for model in MODELS
    ),
    Row("server", "c-fork", "c", "c-fork"),
    Row("server", "c-epoll", "c", "c-epoll", contract=False, dockerfile="Dockerfile.epoll"),  # the speed reference
    Row("loadgen", "c", "c", "c", contract=False, dockerfile="Dockerfile.loadgen"),  # socklab bench's load
    Row("client", "python", "python", "latest"),
    Row("client", "c", "c", "c"),
)


SOURCE_LABEL = "io.socklab.source"  # the digest of what an image was built from (``source_digest``)


def _source_files(row: Row) -> list[Path]:
    """The files a row's image is made of: its Dockerfile and the folders it copies (the C ones: the peers'
    sources, which ``make`` turns into the binaries the image copies)."""
    if row.source == "c":
        roots = [PEERS]
    else:
        own = "client" if row.role == "client" else "server"
        roots = [ROOT / (row.dockerfile or f"Dockerfile.{row.role}"), ROOT / "wire", ROOT / own]
    files = [p for root in roots for p in ([root] if root.is_file() else sorted(root.rglob("*"))) if p.is_file()]
    return [p for p in files if "__pycache__" not in p.parts and p.suffix != ".pyc" and "build" not in p.parts]


def source_digest(row: Row, base_id: str = "") -> str:
    """A short digest of a row's sources and the base image it builds FROM: a user's tag whose label differs
    was built from other code, and ``socklab prepare`` builds it again."""
    digest = hashlib.sha256(base_id.encode())
    for path in _source_files(row):
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _base_id(client: docker.DockerClient, base_image: str) -> str:
    try:
        return str(client.images.get(base_image).id)
    except docker.errors.ImageNotFound:
        return ""


def built_from_tree(client: docker.DockerClient, row: Row, *, base_image: str = BASE_TAG) -> bool:
    """Whether the user's tag of ``row`` exists and was built from the tree as it is now (a cheap look)."""
    try:
        labels = client.images.get(tag_of(row)).labels or {}
    except docker.errors.ImageNotFound:
        return False
    base = "" if row.source == "c" else _base_id(client, base_image)
    return labels.get(SOURCE_LABEL) == source_digest(row, base)


def user_name(row: Row) -> str:
    """How a user names a row's image without its repository prefix: ``server:fork``, ``client:latest``."""
    return f"{row.role}:{row.user_tag}"


def describe_table() -> str:
    """The images ``socklab images`` builds, in words (its help reads this, never a list of its own)."""
    servers = ", ".join(
        f"{row.version}{' = latest' if 'latest' in row.also else ''}" for row in TABLE if row.role == "server"
    )
    others = ", ".join(user_name(row) for row in TABLE if row.role != "server")
    return f"every server version ({servers}), and {others}"


def tag_of(row: Row, *, repository_prefix: str = "socklab", session: str = "") -> str:
    """A test session's tags carry its id (``socklab-test/server:<id>-fork``); a user's do not."""
    repository = f"{repository_prefix}/{row.role}"
    return f"{repository}:{session}-{row.version}" if session else f"{repository}:{row.user_tag}"


def user_tags(role: Literal["server", "client"], *, contract_only: bool = True) -> tuple[str, ...]:
    """The user's tags of every *role* image (for the matrix and the docs), in the table's order."""
    return tuple(tag_of(row) for row in TABLE if row.role == role and (row.contract or not contract_only))


def contract_versions() -> tuple[str, ...]:
    """The server versions the contract suite runs against by default: fork, thread, async, epoll, c-fork."""
    return tuple(row.version for row in TABLE if row.role == "server" and row.contract)


def server_versions(*, teaching: bool = True, source: Literal["python", "c"] | None = None) -> tuple[str, ...]:
    """Every server version of the table, in its order; without the teaching ones (serial) if asked, or
    only those built from one ``source``."""
    return tuple(
        row.version
        for row in TABLE
        if row.role == "server"
        and (teaching or row.model not in TEACHING_MODELS)
        and (source is None or row.source == source)
    )


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

    servers: dict[str, str]  # version ("fork", "thread", "async", "serial", "c-fork") -> tag
    clients: dict[str, str]  # "python", "c" -> tag
    session: str = ""  # the test run whose tags they are (``tag_of(row, session=...)``); "" for the user's

    @property
    def server(self) -> str:
        return self.servers[DEFAULT_MODEL]

    @property
    def client(self) -> str:
        return self.clients["python"]


def ensure_base(client: docker.DockerClient, base_image: str, progress: Progress = quiet) -> None:
    """Build ``socklab/base`` when it is the base and missing; another base is the builder's to find."""
    if base_image == BASE_TAG:
        ensure_image(client, "base", progress=progress)


def build(
    client: docker.DockerClient,
    spec: ImageSpec,
    *,
    labels: dict[str, str] | None = None,
    progress: Progress = quiet,
) -> Image:
    """``docker build`` one image and tag it; BuildFailed with the log's tail."""
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
    return image


def derived_dockerfile(image_id: str, model: str) -> str:
    """A model's image from the one Python server build: metadata only, so files and size stay the same.

    The model's name is the label and the default ``SOCKLAB_MODEL`` in the same two lines, so they
    cannot disagree; ``SOCKLAB_MODEL`` at run time still overrides it, as for every image.
    """
    env = " ".join(f"{name}={value}" for name, value in ServerConfig(model=model).to_env().items())
    return f'FROM {image_id}\nLABEL {MODEL_LABEL}="{model}"\nENV {env}\n'


def derive(
    client: docker.DockerClient,
    image: Image,
    *,
    model: str,
    tag: str,
    also: tuple[str, ...] = (),
    labels: dict[str, str] | None = None,
    progress: Progress = quiet,
) -> Image:
    with tempfile.TemporaryDirectory(prefix="socklab-derive-") as context:
        (Path(context) / "Dockerfile").write_text(derived_dockerfile(image.id, model))
        spec = ImageSpec(tag, "Dockerfile", context=Path(context), also=also)
        return build(client, spec, labels=labels, progress=progress)


def _specs(*, base_image: str, prefix: str, session: str) -> dict[Row, ImageSpec]:
    """The Dockerfile build of every row that has one (the derived models have none)."""
    common = {"BASE_IMAGE": base_image, "VERSION": __version__}
    specs: dict[Row, ImageSpec] = {}
    for row in TABLE:
        tag = tag_of(row, repository_prefix=prefix, session=session)
        also = tuple(f"{prefix}/{row.role}:{name}" for name in row.also) if not session else ()
        dockerfile = row.dockerfile or f"Dockerfile.{row.role}"
        if row.source == "c":
            specs[row] = ImageSpec(tag, dockerfile, {"VERSION": __version__}, context=PEERS, also=also)
        elif row.role == "client":
            specs[row] = ImageSpec(tag, dockerfile, common, also=also)
        elif row.model == DEFAULT_MODEL:
            specs[row] = ImageSpec(tag, dockerfile, {**common, "MODEL": row.model}, also=also)
    return specs


def build_images(
    client: docker.DockerClient,
    *,
    base_image: str = BASE_TAG,
    repository_prefix: str = "socklab",
    session: str = "",
    labels: dict[str, str] | None = None,
    with_c: bool = True,
    only: Collection[str] | None = None,
    install_missing: bool = False,
    progress: Progress = quiet,
) -> ImageSet:
    """Build every server version and both clients (or ``only`` those named as ``user_name`` does:
    ``server:fork``, ``client:latest``); return their tags.

    With no ``session`` the tags are the user's (``socklab/server:fork``, ``:latest``, …); a test session
    passes its id and gets ``socklab-test/server:<id>-fork``, so it never touches the user's images.
    The C witnesses need ``musl-gcc`` on the host: without it ``MissingTool`` says how to install it,
    unless ``install_missing`` (the user's consent) lets ``apt-get`` install it.
    """
    rows = select(only, with_c=with_c)
    ensure_base(client, base_image, progress)
    tags = {row: tag_of(row, repository_prefix=repository_prefix, session=session) for row in rows}
    specs = _specs(base_image=base_image, prefix=repository_prefix, session=session)
    # Every Python model's image derives from the one Python server build (the default model's tag).
    python_server = next(row for row in TABLE if row.model == DEFAULT_MODEL)
    models = [row for row in rows if row.model is not None and row is not python_server]
    wants_python_server = any(row.model is not None for row in rows)
    if wants_python_server and python_server not in tags:
        tags[python_server] = tag_of(python_server, repository_prefix=repository_prefix, session=session)

    base_id = _base_id(client, base_image)

    def labelled(row: Row) -> dict[str, str]:
        return {**(labels or {}), SOURCE_LABEL: source_digest(row, "" if row.source == "c" else base_id)}

    def build_row(row: Row) -> None:
        build(client, specs[row], labels=labelled(row), progress=progress)

    def server_then_models() -> None:
        image = build(client, specs[python_server], labels=labelled(python_server), progress=progress)
        _all(
            partial(derive, client, image, model=str(row.model), tag=tags[row], labels=labelled(row), progress=progress)
            for row in models
        )

    def c_witnesses() -> None:
        build_peers(install_missing=install_missing, progress=progress)
        _all(partial(build_row, row) for row in rows if row.source == "c")  # each its own few steps, side by side

    jobs: list[Callable[[], object]] = [server_then_models] if wants_python_server else []
    jobs += [partial(build_row, row) for row in rows if row.role == "client" and row.source == "python"]
    if any(row.source == "c" for row in rows):
        jobs.append(c_witnesses)
    _all(jobs)
    servers = {row.version: tag for row, tag in tags.items() if row.role == "server"}
    clients = {row.version: tag for row, tag in tags.items() if row.role == "client"}
    return ImageSet(servers=servers, clients=clients, session=session)


def select(only: Collection[str] | None = None, *, with_c: bool = True) -> list[Row]:
    """The rows to build: every one (without the C ones unless ``with_c``), or ``only`` those named.

    An unknown name is a ``ValueError`` that lists the known ones.
    """
    rows = [row for row in TABLE if with_c or row.source != "c"]
    if only is None:
        return rows
    known = {user_name(row): row for row in TABLE} | {f"{row.role}:{a}": row for row in TABLE for a in row.also}
    unknown = sorted(set(only) - set(known))
    if unknown:
        raise ValueError(f"no image {', '.join(unknown)}; socklab builds {', '.join(known)}")
    chosen = [known[name] for name in only]
    return [row for row in rows if row in chosen]


def _all(jobs: Iterable[Callable[[], object]]) -> None:
    """Run *jobs* side by side (the engine builds them concurrently); the first failure is raised."""
    jobs = list(jobs)
    with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()
