"""Telling whether the kernel has IPVS, from a fake root. No engine."""

from __future__ import annotations

import os
from pathlib import Path

from socklab.swarm.kernel import ipvs_available


def test_no_table_no_module_means_no_ipvs(tmp_path: Path) -> None:
    assert ipvs_available(tmp_path) is False


def test_a_loaded_ipvs_shows_in_proc(tmp_path: Path) -> None:
    (tmp_path / "proc/net").mkdir(parents=True)
    (tmp_path / "proc/net/ip_vs").write_text("IP Virtual Server version 1.2.1\n")
    assert ipvs_available(tmp_path) is True


def test_a_loadable_module_counts(tmp_path: Path) -> None:
    module = tmp_path / "lib/modules" / os.uname().release / "kernel/net/netfilter/ipvs/ip_vs.ko.xz"
    module.parent.mkdir(parents=True)
    module.write_bytes(b"")
    assert ipvs_available(tmp_path) is True
