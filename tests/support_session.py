"""What a test run shares, prepared by one process before anything runs in parallel.

The controller (the one pytest process, or xdist's controller before it starts any worker) runs
``socklab prepare`` for what the selected tests can need: host packages (with consent: ``make`` gives it),
the Compose plugin, the base, tools, probes and swarm node images, the C binaries. Under xdist it also builds
the run's own images of every version once, under its own run id, and hands their tags and a shared folder to
each worker (``workerinput``), with the labels of its run for what a worker makes once for all
(``shared_labels``: the broken servers, the wheel's images); it removes everything so labelled when the last
worker is done, and its reaper does if it is killed. So no worker ever runs apt or waits on another's build,
and no test's bounded wait contains a first-use build.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from socklab.images.build import ImageSet, build_images
from socklab.lab import reaper
from socklab.lab.labels import LeftBehind, new_run_id, remove_run, run_labels
from socklab.paths import ROOT
from socklab.prepare import SETS, prepare
from socklab.progress import to_stderr

INSTALL_MISSING = os.environ.get("SOCKLAB_INSTALL_MISSING", "0").lower() in ("1", "true", "yes", "on")
KEY = "socklab"  # in a worker's workerinput
UNIT = ("musl-tools", "browser", "c-binaries")  # what tests/unit needs of the machine (the C loopback, the page)


class _Run:
    """The controller's state for the run: its id, the images it built, the folder it shares."""

    def __init__(self) -> None:
        self.id = new_run_id()
        self.images: ImageSet | None = None
        self.watched = False  # under xdist: everything labelled with the run's id goes at the end
        self.folder = Path(tempfile.mkdtemp(prefix=f"socklab-run-{self.id}-"))


_RUN_KEY = pytest.StashKey[_Run]()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _distributed(config: pytest.Config) -> bool:
    return config.pluginmanager.hasplugin("dsession")


def needs(config: pytest.Config) -> tuple[str, ...]:
    """What the selected tests can need: the unit tests' few things, or everything the suite uses."""
    markexpr = config.getoption("markexpr") or ""
    units = ROOT / "tests" / "unit"
    given = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    only_units = bool(given) and all(path.is_relative_to(units) for path in given)
    return UNIT if only_units or "not lab" in markexpr else SETS["test"]


def _uncaptured(config: pytest.Config) -> contextlib.AbstractContextManager[object]:
    """Past pytest's capture: what the controller prints before any test reaches the terminal at once."""
    capture = config.pluginmanager.getplugin("capturemanager")
    return capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext()


def _say(config: pytest.Config, lines: list[str]) -> None:
    with _uncaptured(config):
        for line in lines:
            print(line, flush=True)


def start(config: pytest.Config) -> None:
    """The controller: prepare the run's prerequisites, and under xdist its images, before any worker."""
    if _is_worker(config):
        return
    wanted = needs(config)
    progress = to_stderr("tests: prepare")
    with _uncaptured(config):
        outcomes = prepare(wanted, install_missing=INSTALL_MISSING, progress=progress)
    problems = [f"socklab prepare: {outcome.line()}" for outcome in outcomes if not outcome.ok]
    if problems:
        _say(config, [*problems, "socklab prepare: the tests that need these will say so"])
    run = _Run()
    config.stash[_RUN_KEY] = run
    if not _distributed(config) or "base" not in wanted:
        return
    reaper.watch(run.id)  # what the run shares goes even if the controller is killed
    run.watched = True
    if not any(o.name == "base" and not o.ok for o in outcomes):
        with _uncaptured(config):
            run.images = _build_images(run, progress)


def _build_images(run: _Run, progress: Any) -> ImageSet | None:
    client = docker.from_env()
    try:
        return build_images(
            client,
            repository_prefix="socklab-test",
            session=run.id,
            labels=run_labels(run.id, "test"),
            install_missing=INSTALL_MISSING,
            progress=progress,
        )
    finally:
        client.close()


def configure_node(node: Any) -> None:
    run = node.config.stash.get(_RUN_KEY, None)
    if run is None:
        return
    node.workerinput[KEY] = json.dumps(_what_is_shared(run))


def _what_is_shared(run: _Run) -> dict[str, Any]:
    return {
        "folder": str(run.folder),
        "images": asdict(run.images) if run.images is not None else None,
        "labels": run_labels(run.id, "test") if run.watched else None,
    }


def _shared(config: pytest.Config) -> dict[str, Any] | None:
    if _is_worker(config):
        text = config.workerinput.get(KEY)  # type: ignore[attr-defined]
        return None if text is None else dict(json.loads(text))
    run = config.stash.get(_RUN_KEY, None)
    return None if run is None else _what_is_shared(run)


def shared_images(config: pytest.Config) -> ImageSet | None:
    """The run's images when the controller built them (under xdist), else None (build them here)."""
    shared = _shared(config)
    if shared is None or shared["images"] is None:
        return None
    return ImageSet(**shared["images"])


def shared_labels(config: pytest.Config) -> dict[str, str] | None:
    """The labels of the controller's run (under xdist), for what a worker makes once for every worker; the
    controller removes it all after the last worker. None in one process: label it with the session's."""
    shared = _shared(config)
    return None if shared is None or shared["labels"] is None else dict(shared["labels"])


def shared_folder(config: pytest.Config) -> Path | None:
    shared = _shared(config)
    return None if shared is None else Path(shared["folder"])


def finish(config: pytest.Config) -> None:
    """The controller, after every worker: remove the run's images and its shared folder."""
    run = config.stash.get(_RUN_KEY, None)
    if run is None or _is_worker(config):
        return
    if run.watched:
        try:
            client = docker.from_env()
        except docker.errors.DockerException as exc:  # the reaper tries again when this process exits
            _say(config, [f"socklab: the run's shared objects stay for the reaper: {exc}"])
            shutil.rmtree(run.folder, ignore_errors=True)
            return
        try:
            removed = remove_run(client, run.id)
        except LeftBehind as exc:  # the reaper tries again when this process exits
            _say(config, [f"socklab: {exc}"])
        else:
            reaper.done(run.id)
            _say(config, [f"socklab: removed what the run shared: {len(removed)} objects"])
        finally:
            client.close()
    shutil.rmtree(run.folder, ignore_errors=True)
