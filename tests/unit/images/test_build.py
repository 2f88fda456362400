"""The tag table and the build plan, without Docker."""

from __future__ import annotations

import shutil

import pytest

from socklab import hostpkg
from socklab.images import build, peers
from socklab.images.errors import BuildFailed, MissingTool
from socklab.wire import CONTRACT_MODELS, MODELS


def test_every_model_has_one_server_tag_and_fork_is_latest():
    python_servers = [row for row in build.TABLE if row.role == "server" and row.source == "python"]
    assert sorted(row.model for row in python_servers) == sorted(MODELS)
    assert [build.tag_of(row) for row in build.TABLE if "latest" in row.also] == ["socklab/server:fork"]
    assert build.user_tags("server") == tuple(f"socklab/server:{v}" for v in (*CONTRACT_MODELS, "c-fork"))
    assert build.user_tags("client") == ("socklab/client:latest", "socklab/client:c")
    assert "socklab/server:serial" in build.user_tags("server", contract_only=False)


def test_the_contract_suite_runs_against_the_versions_that_keep_the_contract():
    assert build.contract_versions() == (*CONTRACT_MODELS, "c-fork")


def test_a_session_never_touches_the_users_tags():
    user = {build.tag_of(row) for row in build.TABLE}
    session = {build.tag_of(row, repository_prefix="socklab-test", session="abc") for row in build.TABLE}
    assert not user & session
    assert len(session) == len(build.TABLE)


def test_the_python_server_is_built_once_and_the_other_models_are_derived():
    specs = build._specs(base_image="socklab/base:latest", prefix="socklab", session="")
    dockerfile_builds = [spec for row, spec in specs.items() if row.role == "server" and row.source == "python"]
    assert [(s.tag, s.buildargs["MODEL"], s.also) for s in dockerfile_builds] == [
        ("socklab/server:fork", "fork", ("socklab/server:latest",))
    ]
    assert all(
        spec.buildargs.get("BASE_IMAGE") == "socklab/base:latest"
        for spec in specs.values()
        if spec.context == build.ROOT
    )


@pytest.mark.parametrize("model", MODELS)
def test_a_derived_tag_says_its_model_twice_alike(model):
    lines = build.derived_dockerfile("sha256:abc", model).splitlines()
    assert lines == ["FROM sha256:abc", f'LABEL io.socklab.model="{model}"', f"ENV SOCKLAB_MODEL={model}"]


def test_missing_host_tools_are_named_with_how_to_install_them(monkeypatch):
    monkeypatch.setattr(peers, "missing_tools", lambda: {"musl-gcc": "musl-tools"})
    monkeypatch.setattr(hostpkg, "missing", lambda packages: list(packages))
    ran = []
    monkeypatch.setattr(hostpkg, "_apt", lambda *a, **k: ran.append(a))
    with pytest.raises(MissingTool, match=r"apt-get install .*musl-tools.*--install-missing") as failure:
        peers.build_peers()
    assert isinstance(failure.value, BuildFailed)  # the CLI's exit code BUILD_FAILED
    assert ran == []  # nothing ran on the host without consent


def test_missing_tools_looks_each_one_up():
    assert peers.missing_tools(lambda tool: None if tool == "musl-gcc" else f"/usr/bin/{tool}") == {
        "musl-gcc": "musl-tools"
    }


def _row(role: str, version: str) -> build.Row:
    return next(row for row in build.TABLE if row.role == role and row.version == version)


def test_the_source_digest_follows_what_the_image_is_made_of(monkeypatch, tmp_path):
    for name in ("Dockerfile.server", "Dockerfile.client", "wire", "server", "client"):
        source = build.ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    monkeypatch.setattr(build, "ROOT", tmp_path)
    fork, thread, client = _row("server", "fork"), _row("server", "thread"), _row("client", "python")
    before = build.source_digest(fork, "sha256:base1")
    assert build.source_digest(thread, "sha256:base1") == before  # one build, the models derived from it
    assert build.source_digest(client, "sha256:base1") != before
    assert build.source_digest(fork, "sha256:base2") != before  # a new base image: built again
    (tmp_path / "server" / "__pycache__").mkdir(exist_ok=True)
    (tmp_path / "server" / "__pycache__" / "core.cpython-311.pyc").write_bytes(b"compiled")
    assert build.source_digest(fork, "sha256:base1") == before  # what Python leaves behind is not a source
    with (tmp_path / "server" / "core.py").open("a") as core:
        core.write("# edited\n")
    assert build.source_digest(fork, "sha256:base1") != before
    assert build.source_digest(client, "sha256:base1") == build.source_digest(client, "sha256:base1")
