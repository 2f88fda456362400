"""Does this kernel have IPVS? Swarm's virtual-IP load balancing needs it; DNS round robin does not.

Without IPVS a service in the default ``endpoint_mode: vip`` gets an address nothing answers on (clients see
"Host is unreachable", or hang on retries), so the stack uses ``endpoint_mode: dnsrr`` and socklab says why
in one line. Only the local kernel can be asked: that is the engine's kernel for this machine's engine and
for Docker-in-Docker nodes, not for a remote one.
"""

from __future__ import annotations

import os
from pathlib import Path

IPVS_NOTE = (
    "no IPVS in this kernel: swarm's virtual IPs cannot work here, so the stack resolves the server "
    "by DNS round robin (endpoint_mode: dnsrr)"
)


def ipvs_available(root: Path = Path("/")) -> bool:
    """IPVS is loaded (its /proc table or /sys module exists) or could be loaded (its module file exists)."""
    if (root / "proc/net/ip_vs").exists() or (root / "sys/module/ip_vs").exists():
        return True
    modules = root / "lib/modules" / os.uname().release
    return any(modules.glob("kernel/net/netfilter/ipvs/ip_vs.ko*"))
