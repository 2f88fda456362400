"""Setting the lab up and tearing it down: ``prepare``, ``base``, ``images``, ``compose``, ``demo``, ``clean``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from socklab.cli.command import add_command
from socklab.cli.exit_codes import ExitCode
from socklab.errors import engine
from socklab.events.options import RecordOptions
from socklab.images.build import build_images, describe_table, select
from socklab.images.rootfs import BASE_TAG, build_base
from socklab.lab.compose import ensure_compose
from socklab.lab.labels import remove_leftovers
from socklab.prepare import CATALOG, SETS
from socklab.prepare import prepare as run_prepare
from socklab.progress import to_stderr
from socklab.wire.knobs import option


@dataclass(frozen=True)
class PrepareOptions:
    needs: tuple[str, ...] = option(
        ("demo",),
        f"what to prepare: a set ({', '.join(SETS)}) or an entry of --list by name (repeatable)",
        flag="--for",
        metavar="WHAT",
    )
    install_missing: bool = option(False, "install the Debian packages an entry needs on this host (apt-get)")
    list: bool = option(False, "list everything socklab prepares, with whether it is here; prepare nothing")

    def __post_init__(self) -> None:
        known = [*SETS, *(entry.name for entry in CATALOG)]
        unknown = [name for name in self.needs if name not in known]
        if unknown:
            raise ValueError(f"nothing called {', '.join(unknown)} to prepare; choose from {', '.join(known)}")


def prepare(options: PrepareOptions) -> ExitCode:
    """Everything the named sets need, checked, the missing made; a line each on stdout, progress on stderr."""
    if options.list:
        for entry in CATALOG:
            sets = ", ".join(name for name, members in SETS.items() if entry.name in members and name != "all")
            print(f"{entry.name:<12} {entry.where:<8} {entry.what} (for {entry.needed_by}; sets: {sets or '-'})")
        return ExitCode.OK
    outcomes = run_prepare(
        options.needs, install_missing=options.install_missing, progress=to_stderr("prepare"), on_outcome=None
    )
    for outcome in outcomes:
        print(outcome.line())
    return ExitCode.OK if all(outcome.ok for outcome in outcomes) else ExitCode.FAILED


@dataclass(frozen=True)
class BaseOptions:
    force: bool = option(False, "rebuild even if the image exists")


def base(options: BaseOptions) -> ExitCode:
    build_base(engine(), tag=BASE_TAG, force=options.force, progress=to_stderr("base"))
    return ExitCode.OK


@dataclass(frozen=True)
class ImagesOptions:
    base_image: str = option(
        BASE_TAG, "image to build FROM, e.g. python:3.11-slim where a registry is reachable", env="BASE_IMAGE"
    )
    c: bool = option(True, "also the C witnesses (needs make, gcc and musl-gcc on the host)")
    install_missing: bool = option(False, "install the host tools the C witnesses need (apt-get) when missing")
    only: tuple[str, ...] = option((), "only this image, as ROLE:TAG (server:fork, client:latest; repeatable)")

    def __post_init__(self) -> None:
        select(self.only or None)  # an unknown name is refused before anything is built


def images(options: ImagesOptions) -> ExitCode:
    built = build_images(
        engine(),
        base_image=options.base_image,
        with_c=options.c,
        only=options.only or None,
        install_missing=options.install_missing,
        progress=to_stderr("images"),
    )
    for tag in [*built.servers.values(), *built.clients.values()]:
        print(tag)
    return ExitCode.OK


@dataclass(frozen=True)
class ComposeOptions:
    pass


def compose(_options: ComposeOptions) -> ExitCode:
    print(" ".join(ensure_compose(to_stderr("compose"))))
    return ExitCode.OK


@dataclass(frozen=True)
class DemoOptions(RecordOptions):
    clients: int = option(3, "how many client containers")
    project: str = option("socklab", "compose project name", env="COMPOSE_PROJECT_NAME")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.clients < 1:
            raise ValueError(f"clients {self.clients} must be at least 1")


def demo(options: DemoOptions) -> ExitCode:
    from socklab.lab.demo import run_demo

    result = run_demo(clients=options.clients, project=options.project, progress=to_stderr("demo"))
    print()
    for answer in result.answers:
        print(f"{answer.container}: {answer.line}  (exit {answer.exit_code})")
    good = sum(a.exit_code == 0 for a in result.answers)
    print(f"{good}/{options.clients} clients answered correctly, {result.seconds:.1f} s from `up` to the last answer")
    return ExitCode.OK if result.ok and len(result.answers) == options.clients else ExitCode.FAILED


@dataclass(frozen=True)
class CleanOptions:
    all: bool = option(False, "also remove the runs of socklab processes that are still running")


def clean(options: CleanOptions) -> ExitCode:
    """Remove what interrupted runs left (everything labelled by socklab, except the built images)."""
    from socklab.faults.cleanup import clean_faults  # first: a fault sidecar must undo before it is removed

    for item in clean_faults(engine(), include_live=options.all, progress=to_stderr("clean")):
        print(item)
    for item in remove_leftovers(engine(), include_live=options.all):
        print(f"removed {item}")
    return ExitCode.OK


def register(sub: Any) -> None:
    add_command(
        sub,
        "prepare",
        "prepare this machine once: host packages, the Compose plugin, images (--list says what and where)",
        PrepareOptions,
        prepare,
    )
    add_command(sub, "base", f"build {BASE_TAG} from Debian packages (no registry needed)", BaseOptions, base)
    add_command(sub, "images", f"build {describe_table()}", ImagesOptions, images)
    add_command(
        sub, "compose", "make `docker compose` (v2) work, installing the plugin if needed", ComposeOptions, compose
    )
    add_command(
        sub, "demo", "docker compose up --scale client=N until every client answered, then down", DemoOptions, demo
    )
    add_command(sub, "clean", "remove containers and networks left by interrupted socklab runs", CleanOptions, clean)
