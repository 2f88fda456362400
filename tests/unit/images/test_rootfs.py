"""Tests for socklab.base.

The pure parts (pruning policy, ld.so parsing, account files, import
changes, tar ownership, the fast path) run anywhere without Docker.  The one
``lab`` test builds a real image into a throwaway tag and needs root and a
Docker engine.
"""

from __future__ import annotations

import contextlib
import os
import tarfile
import uuid
from pathlib import Path

import docker
import docker.errors
import pytest

from socklab.images import rootfs as base
from socklab.lab.labels import run_labels

STDLIB = "usr/lib/python3.11"

# What the lab's programs import, plus what interpreter start-up needs.
LAB_MODULES = [
    *("socket", "selectors", "asyncio", "threading", "argparse", "json"),
    *("dataclasses", "enum", "logging", "typing", "signal", "queue"),
    *("contextlib", "functools", "traceback", "socketserver", "encodings"),
    *("concurrent", "importlib", "re", "collections", "gettext", "locale"),
    *("inspect", "ast", "dis", "tokenize"),
]

OWNER = {"io.socklab.owner": "base-helper"}


# --- pruning policy --------------------------------------------------------


@pytest.mark.parametrize("module", LAB_MODULES)
def test_lab_modules_are_not_pruned(module: str) -> None:
    assert not base.is_pruned(f"{STDLIB}/{module}.py")
    assert not base.is_pruned(f"{STDLIB}/{module}")
    assert not base.is_pruned(f"{STDLIB}/{module}/__init__.py")


@pytest.mark.parametrize(
    "path",
    [
        f"{STDLIB}/asyncio/base_events.py",
        f"{STDLIB}/lib-dynload/_asyncio.cpython-311-x86_64-linux-gnu.so",
        f"{STDLIB}/lib-dynload/_json.cpython-311-x86_64-linux-gnu.so",
        f"{STDLIB}/encodings/utf_8.py",
        f"{STDLIB}/encodings/idna.py",
        f"{STDLIB}/encodings/cp1252.py",
        f"{STDLIB}/logging/handlers.py",
        "usr/share/doc/libc6/copyright",
        "usr/bin/python3.11",
        "lib/x86_64-linux-gnu/libc.so.6",
    ],
)
def test_kept(path: str) -> None:
    assert not base.is_pruned(path)


@pytest.mark.parametrize(
    "path",
    [
        "usr/share/man/man1/python3.11.1.gz",
        "usr/share/doc/libc6/changelog.Debian.gz",
        "usr/share/lintian/overrides/libc6",
        "usr/lib/x86_64-linux-gnu/gconv",
        f"{STDLIB}/test",
        f"{STDLIB}/idlelib",
        f"{STDLIB}/tkinter",
        f"{STDLIB}/ensurepip",
        f"{STDLIB}/lib2to3",
        f"{STDLIB}/ctypes",
        f"{STDLIB}/sqlite3",
        f"{STDLIB}/ssl.py",
        f"{STDLIB}/sitecustomize.py",
        f"{STDLIB}/json/__pycache__",
        f"{STDLIB}/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so",
        f"{STDLIB}/lib-dynload/_testcapi.cpython-311-x86_64-linux-gnu.so",
        f"{STDLIB}/lib-dynload/_codecs_jp.cpython-311-x86_64-linux-gnu.so",
        f"{STDLIB}/encodings/shift_jis.py",
        f"{STDLIB}/encodings/cp1250.py",
        f"{STDLIB}/asyncio/windows_events.py",
    ],
)
def test_pruned(path: str) -> None:
    assert base.is_pruned(path)


def test_package_lists_are_disjoint() -> None:
    assert not set(base.PACKAGES) & set(base.DROPPED_PACKAGES)
    assert "python3.11-minimal" in base.PACKAGES
    assert "libgcc-s1" in base.PACKAGES  # dlopen'ed by pthread_exit


# --- ld.so --list parsing --------------------------------------------------

LD_LIST = """\
\tlinux-vdso.so.1 (0x00007ffd3b5f2000)
\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f6d26c92000)
\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f6d26c73000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f6d26a63000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f6d26d7c000)
"""


def test_parse_ld_list() -> None:
    assert base.parse_ld_list(LD_LIST) == [
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/lib/x86_64-linux-gnu/libz.so.1",
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/ld-linux-x86-64.so.2",
    ]


def test_parse_ld_list_missing_library() -> None:
    with pytest.raises(base.BaseBuildError, match=r"libssl\.so\.3"):
        base.parse_ld_list("\tlibssl.so.3 => not found\n")


def test_symlink_chain_stays_inside_root(tmp_path: Path) -> None:
    lib = tmp_path / "lib/x86_64-linux-gnu"
    lib.mkdir(parents=True)
    (lib / "libz.so.1.2.13").write_bytes(b"")
    (lib / "libz.so.1").symlink_to("libz.so.1.2.13")
    (tmp_path / "lib64").mkdir()
    # Absolute, like libc6's: must be followed inside tmp_path, not on the host.
    (tmp_path / "lib64/ld.so").symlink_to("/lib/x86_64-linux-gnu/libz.so.1")
    assert base._symlink_chain(tmp_path, "/lib64/ld.so") == {
        "lib64/ld.so",
        "lib/x86_64-linux-gnu/libz.so.1",
        "lib/x86_64-linux-gnu/libz.so.1.2.13",
    }


# --- account files, image config, tar --------------------------------------


def test_passwd_and_group() -> None:
    users = [line.split(":") for line in base.passwd_text().splitlines()]
    assert [u[0] for u in users] == ["root", "socklab"]
    assert users[0][2:4] == ["0", "0"]
    assert users[1][2:4] == ["10001", "10001"]
    assert users[1][5] == "/home/socklab"
    groups = [line.split(":") for line in base.group_text().splitlines()]
    assert [(g[0], g[2]) for g in groups] == [("root", "0"), ("socklab", "10001")]


def test_import_changes() -> None:
    changes = base.import_changes(
        python_version="3.11.2",
        debs={"libc6": "2.36-9+deb12u14", "zlib1g": "1:1.2.13.dfsg-1"},
        extra_labels={"x.y": 'a "b"'},
    )
    assert changes[:3] == [
        "ENV PATH=/usr/local/bin:/usr/bin:/bin",
        "ENV LANG=C.UTF-8",
        "ENV PYTHONUNBUFFERED=1",
    ]
    assert changes[-1] == 'CMD ["python3"]'
    assert 'LABEL org.opencontainers.image.title="socklab base"' in changes
    assert 'LABEL io.socklab.python="3.11.2"' in changes
    assert 'LABEL io.socklab.debs="libc6=2.36-9+deb12u14,zlib1g=1:1.2.13.dfsg-1"' in changes
    assert 'LABEL x.y="a \\"b\\""' in changes


def test_skeleton_and_tar_ownership(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/python3.11").write_bytes(b"")
    base._write_skeleton(root)
    tarpath = tmp_path / "rootfs.tar"
    base._write_tar(root, tarpath)
    with tarfile.open(tarpath) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["usr/bin/python3"].issym()
    assert members["usr/bin/python3"].linkname == "python3.11"
    assert members["usr/bin/python"].linkname == "python3.11"
    assert members["usr/local/bin"].isdir()
    assert members["tmp"].mode & 0o7777 == 0o1777
    home = members["home/socklab"]
    assert (home.uid, home.gid, home.uname) == (10001, 10001, "socklab")
    others = [m for name, m in members.items() if not name.startswith("home/socklab")]
    assert all((m.uid, m.gid, m.uname) == (0, 0, "root") for m in others)
    assert "hosts: files dns" in (root / "etc/nsswitch.conf").read_text()


# --- fast path, with a stub client ------------------------------------------


class _Images:
    def __init__(self, image: object | None) -> None:
        self.image = image

    def get(self, _tag: str) -> object:
        if self.image is None:
            raise docker.errors.ImageNotFound("no such image")
        return self.image


class _Client:
    def __init__(self, image: object | None) -> None:
        self.images = _Images(image)


def test_base_exists_with_stub() -> None:
    assert base.base_exists(_Client(object())) is True  # type: ignore[arg-type]
    assert base.base_exists(_Client(None)) is False  # type: ignore[arg-type]


def test_build_base_returns_existing_without_building(tmp_path: Path) -> None:
    image = object()
    cache = tmp_path / "never-created"
    got = base.build_base(_Client(image), cache_dir=cache)  # type: ignore[arg-type]
    assert got is image
    assert not cache.exists()


# --- the real thing -----------------------------------------------------------


SMOKE = (
    "import socket, selectors, asyncio, threading, argparse, json, dataclasses, signal, os, sys;"
    "print(os.getuid(), os.getgid(), sys.getfilesystemencoding())"
)


@pytest.mark.lab
def test_build_and_run_throwaway_image(docker_client: docker.DockerClient, session_id: str) -> None:
    """Build into a unique tag (never touching socklab/base:latest) and run it as the lab user."""
    if os.geteuid() != 0:
        message = "building the base image needs root (chroot)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    client = docker_client
    tag = f"socklab-test/base:{uuid.uuid4().hex[:12]}"
    # The session's labels put the image and containers under conftest's safety net too.
    labels = {**OWNER, **run_labels(session_id, "test")}
    messages: list[str] = []
    containers = []
    try:
        image = base.build_base(client, tag=tag, labels=labels, progress=messages.append)
        assert image.labels["io.socklab.owner"] == "base-helper"
        assert image.labels["io.socklab.python"].startswith("3.11.")
        assert "python3.11-minimal=" in image.labels["io.socklab.debs"]
        assert any(m.startswith("compile:") for m in messages)
        assert image.attrs["Config"]["Cmd"] == ["python3"]
        assert base.base_exists(client, tag)

        outputs = []
        for command in (["python", "-c", SMOKE], ["python", "--version"]):
            container = client.containers.create(tag, command, user="10001:10001", labels=OWNER, network_disabled=True)
            containers.append(container)
            container.start()
            status = container.wait(timeout=60)
            logs = container.logs(stdout=True, stderr=True).decode()
            assert status["StatusCode"] == 0, logs
            outputs.append(logs.strip())
        assert outputs[0] == "10001 10001 utf-8"
        assert outputs[1].startswith("Python 3.11.")
    finally:
        for container in containers:
            container.remove(force=True)
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(tag, force=True)
