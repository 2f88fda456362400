"""The image's skeleton and tar: links, accounts, modes and ownership as a container sees them."""

from __future__ import annotations

import tarfile
from pathlib import Path

from socklab.images import tree
from socklab.images.policies import base_policy, tools_policy

BASE = base_policy("3.11")
TOOLS = tools_policy("3.11")


def _members(root: Path, tmp_path: Path, policy) -> dict[str, tarfile.TarInfo]:
    tarpath = tmp_path / "rootfs.tar"
    tree.write_tar(root, tarpath, policy)
    with tarfile.open(tarpath) as tar:
        return {m.name: m for m in tar.getmembers()}


def test_base_skeleton_and_ownership(tmp_path: Path):
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/python3.11").write_bytes(b"")
    tree.write_skeleton(root, BASE)
    members = _members(root, tmp_path, BASE)
    assert members["usr/bin/python3"].issym() and members["usr/bin/python3"].linkname == "python3.11"
    assert members["usr/bin/python"].linkname == "python3.11"
    assert members["usr/local/bin"].isdir()
    assert members["tmp"].mode & 0o7777 == 0o1777
    assert members["root"].mode & 0o777 == 0o700
    home = members["home/socklab"]
    assert (home.uid, home.gid, home.uname) == (10001, 10001, "socklab")
    others = [m for name, m in members.items() if not name.startswith("home/socklab")]
    assert all((m.uid, m.gid, m.uname) == (0, 0, "root") for m in others)
    assert "hosts: files dns" in (root / "etc/nsswitch.conf").read_text()


def test_passwd_and_group_name_root_and_the_lab_user():
    users = [line.split(":") for line in tree.passwd_text(BASE).splitlines()]
    assert [u[0] for u in users] == ["root", "socklab"]
    assert users[0][2:4] == ["0", "0"]
    assert users[1][2:4] == ["10001", "10001"]
    assert users[1][5] == "/home/socklab"
    groups = [line.split(":") for line in tree.group_text(BASE).splitlines()]
    assert [(g[0], g[2]) for g in groups] == [("root", "0"), ("socklab", "10001")]


def test_tools_skeleton_points_iptables_at_nf_tables(tmp_path: Path):
    root = tmp_path / "root"
    (root / "usr/sbin").mkdir(parents=True)
    (root / "usr/sbin/xtables-nft-multi").write_bytes(b"")
    tree.write_skeleton(root, TOOLS)
    assert (root / "usr/sbin/iptables").resolve() == (root / "usr/sbin/xtables-nft-multi").resolve()
    assert "tcpdump:x:101:101:" in (root / "etc/passwd").read_text()
    assert not (root / "nonexistent").exists()  # tcpdump's home is only a name
    assert (root / "run").is_dir()
