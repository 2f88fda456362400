"""One reading of a container's sockets from outside it: ``python3 -m observer.sockets`` in a tools sidecar in its
network namespace (netlink INET_DIAG, no capability needed). The experiments (``Stage.observe(target,
"sockets")``) and ``socklab trace`` read sockets this way; ``--kernel`` samples them continuously instead.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from socklab.kernel.containers import COPIES, ENV, HOME
from socklab.lab.containers import LabContainer
from socklab.lab.topology import Hardening, Node

if TYPE_CHECKING:
    from socklab.lab.lab import Lab

READER = Hardening(read_only=False, cap_drop=("ALL",), pids_limit=16, mem_limit="128m")


class SocketsUnread(RuntimeError):
    """The reader failed; the message carries its output."""


def read_sockets(lab: Lab, target: LabContainer, *args: str, image: str) -> list[Any]:
    """What ``python3 -m observer.sockets ARGS`` prints in ``target``'s namespace: one value per sample, each the
    list of its sockets (``observer.sockets.Row`` fields), or the raw rows with ``--raw``."""
    node = Node(
        lab.new_role(f"kernel-sockets-{target.node.role}"),
        image,
        env=ENV,
        command=("python3", "-m", "observer.sockets", *args),
        shares_network_with=target.node.role,
        hardening=READER,
        extra={"working_dir": HOME},
        copies=COPIES,
    )
    run = lab.run_once(node)
    if run.exit_code != 0:
        raise SocketsUnread(
            f"observer.sockets {' '.join(args)} beside {target.name}: {(run.stdout + run.stderr)[-2000:]}"
        )
    return [json.loads(line)["value"] for line in run.stdout.splitlines() if line.startswith("{")]
