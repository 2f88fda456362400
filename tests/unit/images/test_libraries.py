"""The builder's library check: every program's libraries present, the unused ones gone."""

from __future__ import annotations

from pathlib import Path

import pytest

from socklab.images import libraries
from socklab.images.debs import ImageBuildError
from socklab.images.policy import ImagePolicy

LD_LIST = """\
\tlinux-vdso.so.1 (0x00007ffd3b5f2000)
\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f6d26c92000)
\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f6d26c73000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f6d26a63000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f6d26d7c000)
"""


def test_parse_ld_list():
    assert libraries.parse_ld_list(LD_LIST) == [
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/lib/x86_64-linux-gnu/libz.so.1",
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/ld-linux-x86-64.so.2",
    ]


def test_a_missing_library_fails_the_build_and_is_named():
    with pytest.raises(ImageBuildError, match=r"libssl\.so\.3"):
        libraries.parse_ld_list("\tlibssl.so.3 => not found\n")


def test_symlink_chain_stays_inside_root(tmp_path: Path):
    lib = tmp_path / "lib/x86_64-linux-gnu"
    lib.mkdir(parents=True)
    (lib / "libz.so.1.2.13").write_bytes(b"")
    (lib / "libz.so.1").symlink_to("libz.so.1.2.13")
    (tmp_path / "lib64").mkdir()
    # Absolute, like libc6's: must be followed inside tmp_path, not on the host.
    (tmp_path / "lib64/ld.so").symlink_to("/lib/x86_64-linux-gnu/libz.so.1")
    assert libraries.symlink_chain(tmp_path, "/lib64/ld.so") == {
        "lib64/ld.so",
        "lib/x86_64-linux-gnu/libz.so.1",
        "lib/x86_64-linux-gnu/libz.so.1.2.13",
    }


def _fake_root(root: Path) -> None:
    files = [
        "lib64/ld-linux-x86-64.so.2",
        "lib/x86_64-linux-gnu/libc.so.6",
        "lib/x86_64-linux-gnu/libgcc_s.so.1",
        "lib/x86_64-linux-gnu/libunused.so.1",
        "usr/lib/x86_64-linux-gnu/libxtables.so.12",
        "usr/lib/x86_64-linux-gnu/xtables/libxt_statistic.so",
        "usr/lib/x86_64-linux-gnu/tc/normal.dist",
        "usr/sbin/xtables-nft-multi",
    ]
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


POLICY = ImagePolicy(
    name="t",
    tag="t:latest",
    title="t",
    description="t",
    packages=(),
    elf_roots=("usr/sbin/xtables-nft-multi", "usr/lib/*-linux-gnu*/xtables/*.so"),
    dlopened=("lib/*-linux-gnu*/libgcc_s.so.1",),
)


def test_libraries_nothing_loads_go_and_the_rest_stay(tmp_path, monkeypatch):
    _fake_root(tmp_path)
    listed = []

    def ld_so(cmd, *, what, cwd=None):
        listed.append(cmd[-1])
        return "\tlibxtables.so.12 => /usr/lib/x86_64-linux-gnu/libxtables.so.12 (0x1)\n" + (
            "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x2)\n"
        )

    monkeypatch.setattr(libraries, "run", ld_so)
    libraries.prune_libraries(tmp_path, POLICY)
    assert sorted(listed) == ["/usr/lib/x86_64-linux-gnu/xtables/libxt_statistic.so", "/usr/sbin/xtables-nft-multi"]
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert left == [
        "lib/x86_64-linux-gnu/libc.so.6",
        "lib/x86_64-linux-gnu/libgcc_s.so.1",  # dlopened
        "lib64/ld-linux-x86-64.so.2",
        "usr/lib/x86_64-linux-gnu/libxtables.so.12",
        "usr/lib/x86_64-linux-gnu/tc/normal.dist",  # not a library: the path policy decides
        "usr/lib/x86_64-linux-gnu/xtables/libxt_statistic.so",  # a root itself
        "usr/sbin/xtables-nft-multi",
    ]


def test_a_root_with_a_missing_library_fails_the_build(tmp_path, monkeypatch):
    _fake_root(tmp_path)
    monkeypatch.setattr(libraries, "run", lambda cmd, **_: "\tlibnftnl.so.11 => not found\n")
    with pytest.raises(ImageBuildError, match="libnftnl"):
        libraries.prune_libraries(tmp_path, POLICY)


def test_a_root_the_packages_do_not_ship_fails_the_build(tmp_path, monkeypatch):
    _fake_root(tmp_path)
    monkeypatch.setattr(libraries, "run", lambda cmd, **_: "")
    policy = ImagePolicy(name="t", tag="t", title="t", description="t", packages=(), elf_roots=("bin/ip",))
    with pytest.raises(ImageBuildError, match="nothing at bin/ip"):
        libraries.prune_libraries(tmp_path, policy)
