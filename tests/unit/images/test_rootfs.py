"""The builder's public API without Docker: the image config it imports, and when it builds."""

from __future__ import annotations

import docker.errors
import pytest

from socklab.images import rootfs
from socklab.images.policies import base_policy, tools_policy

BASE = base_policy("3.11")


def test_import_changes_configure_the_base():
    changes = rootfs.import_changes(
        BASE,
        python_version="3.11.2",
        versions={"libc6": "2.36-9+deb12u14", "zlib1g": "1:1.2.13.dfsg-1"},
        extra_labels={"x.y": 'a "b"'},
    )
    assert changes[:3] == ["ENV PATH=/usr/local/bin:/usr/bin:/bin", "ENV LANG=C.UTF-8", "ENV PYTHONUNBUFFERED=1"]
    assert changes[-1] == 'CMD ["python3"]'
    assert 'LABEL org.opencontainers.image.title="socklab base"' in changes
    assert 'LABEL io.socklab.python="3.11.2"' in changes
    assert 'LABEL io.socklab.debs="libc6=2.36-9+deb12u14,zlib1g=1:1.2.13.dfsg-1"' in changes
    assert f'LABEL io.socklab.policy="{BASE.digest()}"' in changes
    assert 'LABEL x.y="a \\"b\\""' in changes
    assert not any(c.startswith("USER") for c in changes)  # the Dockerfiles choose the user


def test_tools_find_sbin_programs():
    changes = rootfs.import_changes(tools_policy("3.11"), python_version="3.11.2", versions={})
    path = next(c for c in changes if c.startswith("ENV PATH="))
    assert "/usr/sbin" in path and "/sbin" in path


class _Image:
    def __init__(self, labels: dict[str, str] | None) -> None:
        self.labels = labels
        self.id = "sha256:old"


class _Images:
    def __init__(self, image: _Image | None) -> None:
        self.image = image

    def get(self, _tag: str) -> _Image:
        if self.image is None:
            raise docker.errors.ImageNotFound("no such image")
        return self.image


class _Client:
    def __init__(self, image: _Image | None) -> None:
        self.images = _Images(image)


@pytest.fixture
def builds(monkeypatch, tmp_path):
    """Record the builds ensure_image asks for instead of running them."""
    done: list[tuple[str, str]] = []

    def build_image(client, name, *, tag, **_kwargs):
        done.append((name if isinstance(name, str) else name.name, tag))
        client.images.image = _Image({"io.socklab.policy": "new"})

    monkeypatch.setattr(rootfs, "build_image", build_image)
    monkeypatch.setattr(rootfs.debs, "default_python", lambda: "3.11")
    return done


def test_present_and_current_image_is_not_rebuilt(builds, tmp_path):
    client = _Client(_Image({"io.socklab.python": "3.11.2", "io.socklab.policy": BASE.digest()}))
    assert rootfs.ensure_image(client, "base", cache_dir=tmp_path) == "socklab/base:latest"
    assert builds == []


def test_an_image_loaded_without_policy_labels_is_used_as_it_is(builds, tmp_path):
    assert rootfs.ensure_image(_Client(_Image(None)), "tools", cache_dir=tmp_path) == "socklab/tools:latest"
    assert builds == []


def test_missing_stale_or_forced_images_are_built(builds, tmp_path):
    rootfs.ensure_image(_Client(None), "tools", cache_dir=tmp_path)
    stale = _Image({"io.socklab.python": "3.11.2", "io.socklab.policy": "0123456789abcdef"})
    rootfs.ensure_image(_Client(stale), "base", tag="x/base:t", cache_dir=tmp_path)
    current = _Image({"io.socklab.python": "3.11.2", "io.socklab.policy": BASE.digest()})
    rootfs.ensure_image(_Client(current), "base", force=True, cache_dir=tmp_path)
    assert builds == [("tools", "socklab/tools:latest"), ("base", "x/base:t"), ("base", "socklab/base:latest")]
