"""Debian packages on the host: asked for, installed once with consent, never "Could not get lock"."""

from __future__ import annotations

import subprocess
import threading

import pytest

from socklab import hostcmd, hostpkg
from socklab.images.errors import BuildFailed, MissingTool


def test_what_is_installed_is_not_missing_and_a_made_up_package_is():
    assert hostpkg.missing(["dpkg", "socklab-no-such-package"]) == ["socklab-no-such-package"]


def test_without_consent_it_says_how_to_install_and_runs_nothing(monkeypatch):
    monkeypatch.setattr(hostpkg, "missing", lambda packages: list(packages))
    ran: list[object] = []
    monkeypatch.setattr(hostpkg, "_apt", lambda *a, **k: ran.append(a))
    with pytest.raises(MissingTool, match=r"sudo apt-get install -y -q --no-install-recommends musl-tools") as failure:
        hostpkg.install(["musl-tools"], why="the C witnesses need musl-gcc", consent=False)
    assert "SOCKLAB_INSTALL_MISSING=1" in str(failure.value) and "the C witnesses need musl-gcc" in str(failure.value)
    assert isinstance(failure.value, BuildFailed)  # the CLI's exit code BUILD_FAILED
    assert ran == []


def test_installing_needs_root_and_says_so(monkeypatch):
    monkeypatch.setattr(hostpkg, "missing", lambda packages: list(packages))
    monkeypatch.setattr(hostpkg.os, "geteuid", lambda: 1000)
    with pytest.raises(MissingTool, match=r"needs root: run `sudo apt-get install"):
        hostpkg.install(["musl-tools"], why="the C witnesses need musl-gcc", consent=True)


def _done(code: int, stderr: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess(["apt-get"], code, "", stderr)


def test_a_lock_held_by_another_apt_is_waited_for_not_a_failure(monkeypatch):
    answers = [
        _done(100, "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 5163 (apt-get)"),
        _done(100, "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 5163 (apt-get)"),
        _done(0),
    ]
    calls: list[list[str]] = []
    monkeypatch.setattr(hostpkg.subprocess, "run", lambda command, **_: calls.append(command) or answers.pop(0))
    monkeypatch.setattr(hostpkg.time, "sleep", lambda _seconds: None)
    said: list[str] = []
    assert hostpkg._apt(["update", "-q"], what="apt-get update", progress=said.append).returncode == 0
    assert len(calls) == 3 and all(f"DPkg::Lock::Timeout={hostpkg.LOCK_WAIT}" in call for call in calls)
    assert said == [f"apt-get update: another apt holds a lock; waiting for it (up to {hostpkg.LOCK_WAIT} s)"]


def test_another_failure_is_not_retried_as_a_lock(monkeypatch):
    answers = [_done(100, "E: Unable to locate package musl-toolz")]
    monkeypatch.setattr(hostpkg.subprocess, "run", lambda command, **_: answers.pop(0))
    assert hostpkg._apt(["install", "musl-toolz"], what="apt-get install", progress=print).returncode == 100


def test_two_processes_asking_at_once_install_once(monkeypatch, tmp_path):
    monkeypatch.setattr(hostcmd, "LOCK_DIR", tmp_path)
    monkeypatch.setattr(hostpkg.os, "geteuid", lambda: 0)
    installed: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def fake_apt(args: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        inside.set()
        assert release.wait(10)
        installed.extend(args[4:])
        return _done(0)

    monkeypatch.setattr(hostpkg, "missing", lambda packages: [p for p in packages if p not in installed])
    monkeypatch.setattr(hostpkg, "_apt", fake_apt)
    results: list[list[str]] = []
    said: list[str] = []
    waiting = threading.Event()

    def progress(line: str) -> None:
        said.append(line)
        waiting.set()

    first = threading.Thread(target=lambda: results.append(hostpkg.install(["debootstrap"], why="x", consent=True)))
    first.start()
    assert inside.wait(10)
    second = threading.Thread(
        target=lambda: results.append(hostpkg.install(["debootstrap"], why="x", consent=True, progress=progress))
    )
    second.start()
    assert waiting.wait(10), "the second never said it waits"
    assert second.is_alive() and "waiting for apt-get" in said[0] and "holds it" in said[0], said
    release.set()
    first.join(10)
    second.join(10)
    assert installed == ["debootstrap"] and sorted(results) == [[], ["debootstrap"]]
