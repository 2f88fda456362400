"""What the kernel knows about a server container: CPU time and memory from its cgroup, listen-queue
overflows and SYN cookies from its network namespace. Read on the host (the benchmark runs as root
next to dockerd), through the container's init process in /proc, so any cgroup layout works.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC = Path("/proc")


class CgroupUnreadable(RuntimeError):
    """The container's cgroup files are not where /proc/PID/cgroup says (not on this host, or gone)."""


@dataclass(frozen=True)
class Cgroup:
    """The accounting files of one container: cgroup v1 (cpuacct, memory controllers) or v2 (unified)."""

    cpu_file: Path  # v1 cpuacct.usage (ns) | v2 cpu.stat (usage_usec)
    memory_peak_file: Path  # v1 memory.max_usage_in_bytes | v2 memory.peak
    memory_now_file: Path  # v1 memory.usage_in_bytes | v2 memory.current
    v2: bool

    @classmethod
    def of_pid(cls, pid: int) -> Cgroup:
        paths: dict[str, str] = {}
        for line in (PROC / str(pid) / "cgroup").read_text().splitlines():
            _hierarchy, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path
        if "cpuacct" in paths and "memory" in paths:
            cpu = CGROUP_ROOT / "cpuacct" / paths["cpuacct"].lstrip("/")
            if not cpu.exists():
                cpu = CGROUP_ROOT / "cpu,cpuacct" / paths["cpuacct"].lstrip("/")
            memory = CGROUP_ROOT / "memory" / paths["memory"].lstrip("/")
            group = cls(
                cpu / "cpuacct.usage", memory / "memory.max_usage_in_bytes", memory / "memory.usage_in_bytes", False
            )
        elif "" in paths:
            unified = CGROUP_ROOT / paths[""].lstrip("/")
            group = cls(unified / "cpu.stat", unified / "memory.peak", unified / "memory.current", True)
        else:
            raise CgroupUnreadable(f"no cpu/memory cgroup for pid {pid}: {paths}")
        if not group.cpu_file.exists():
            raise CgroupUnreadable(f"{group.cpu_file} does not exist")
        return group

    def cpu_seconds(self) -> float:
        text = self.cpu_file.read_text()
        if not self.v2:
            return int(text) / 1e9
        fields = dict(line.split() for line in text.splitlines())
        return int(fields["usage_usec"]) / 1e6

    def memory_peak(self) -> int:
        """Bytes; v2 kernels before 5.19 have no memory.peak, then the current value is the best we have."""
        path = self.memory_peak_file if self.memory_peak_file.exists() else self.memory_now_file
        return int(path.read_text())

    def reset_memory_peak(self) -> bool:
        """Start a new peak (v1: write 0 to max_usage; v2 >= 6.12: write to memory.peak). False if not possible."""
        try:
            self.memory_peak_file.write_text("0\n")
        except OSError:
            return False
        return True


NETSTAT_FIELDS = (
    "ListenOverflows",
    "ListenDrops",
    "SyncookiesSent",
    "SyncookiesRecv",
    "SyncookiesFailed",
    "TCPReqQFullDrop",
)


def netstat(pid: int) -> dict[str, int]:
    """The TcpExt counters of the network namespace ``pid`` lives in (its /proc/PID/net/netstat)."""
    lines = (PROC / str(pid) / "net" / "netstat").read_text().splitlines()
    counters: dict[str, int] = {}
    for header, values in zip(lines[::2], lines[1::2], strict=False):
        if header.startswith("TcpExt:"):
            counters.update(zip(header.split()[1:], (int(v) for v in values.split()[1:]), strict=False))
    return {name: counters.get(name, 0) for name in NETSTAT_FIELDS}


def netstat_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before.get(name, 0) for name in after}


def tcp_counters(pid: int) -> dict[str, int]:
    """The ``Tcp:`` counters (RFC 1213: PassiveOpens, ActiveOpens, ...) of the network namespace ``pid``
    lives in: the kernel's own count of the connections a server completed, whoever loaded it."""
    lines = (PROC / str(pid) / "net" / "snmp").read_text().splitlines()
    for header, values in zip(lines[::2], lines[1::2], strict=False):
        if header.startswith("Tcp:"):
            return dict(zip(header.split()[1:], (int(v) for v in values.split()[1:]), strict=False))
    return {}
