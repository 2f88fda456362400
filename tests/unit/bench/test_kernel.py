from pathlib import Path

import pytest

from socklab.bench import kernel
from socklab.bench.kernel import Cgroup, netstat, netstat_delta

NETSTAT = """TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed ListenOverflows ListenDrops TCPReqQFullDrop
TcpExt: 7 5 0 120 125 3
IpExt: InNoRoutes InTruncatedPkts
IpExt: 0 0
"""


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(kernel, "PROC", tmp_path / "proc")
    monkeypatch.setattr(kernel, "CGROUP_ROOT", tmp_path / "cgroup")
    (tmp_path / "proc" / "42" / "net").mkdir(parents=True)
    return tmp_path


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v1_reads_cpuacct_and_memory(host: Path) -> None:
    write(host / "proc/42/cgroup", "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n")
    write(host / "cgroup/cpuacct/docker/abc/cpuacct.usage", "2500000000\n")
    write(host / "cgroup/memory/docker/abc/memory.max_usage_in_bytes", "64000000\n")
    write(host / "cgroup/memory/docker/abc/memory.usage_in_bytes", "1000\n")
    group = Cgroup.of_pid(42)
    assert not group.v2
    assert group.cpu_seconds() == 2.5
    assert group.memory_peak() == 64_000_000
    assert group.reset_memory_peak()


def test_cgroup_v2_reads_cpu_stat_and_falls_back_to_current_memory(host: Path) -> None:
    write(host / "proc/42/cgroup", "0::/system.slice/docker-abc.scope\n")
    write(host / "cgroup/system.slice/docker-abc.scope/cpu.stat", "usage_usec 1500000\nuser_usec 1000000\n")
    write(host / "cgroup/system.slice/docker-abc.scope/memory.current", "4096\n")
    group = Cgroup.of_pid(42)
    assert group.v2 and group.cpu_seconds() == 1.5
    assert group.memory_peak() == 4096  # no memory.peak before Linux 5.19


def test_netstat_counters_of_the_namespace(host: Path) -> None:
    write(host / "proc/42/net/netstat", NETSTAT)
    before = netstat(42)
    assert before["ListenOverflows"] == 120 and before["SyncookiesSent"] == 7
    assert netstat_delta({"ListenOverflows": 100}, before)["ListenOverflows"] == 20


def test_the_real_host_can_be_read() -> None:
    """This process's own cgroup and namespace: the files exist on any Linux host the bench runs on."""
    import os

    counters = netstat(os.getpid())
    assert set(counters) == set(kernel.NETSTAT_FIELDS)
