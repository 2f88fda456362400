"""The compatibility matrix: every client image against every server image, on the wire.

One lab per server image; each client image sends 'A' from its own container(s). A cell passes when
every client of that image exits 0 having printed 'B'. The C witnesses make this a check of wire
compatibility, not just of our Python code talking to itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from socklab.images.build import user_tags
from socklab.lab.lab import Lab
from socklab.progress import Progress, quiet

DEFAULT_SERVERS = user_tags("server")  # every version that keeps the contract, from the one tag table
DEFAULT_CLIENTS = user_tags("client")


@dataclass(frozen=True)
class Cell:
    server: str
    client: str
    ok: bool
    answers: list[str | None]
    detail: str  # empty when ok; else what went wrong, from the first failing client


@dataclass(frozen=True)
class Matrix:
    servers: list[str]
    clients: list[str]
    cells: list[Cell]

    @property
    def ok(self) -> bool:
        return all(cell.ok for cell in self.cells)

    def cell(self, server: str, client: str) -> Cell:
        return next(c for c in self.cells if c.server == server and c.client == client)

    def grid(self) -> str:
        """A text grid: servers down, clients across."""
        first = max(len("server \\ client"), *(len(s) for s in self.servers))
        widths = [max(len(c), 12) for c in self.clients]
        lines = [
            "  ".join(
                ["server \\ client".ljust(first), *(c.ljust(w) for c, w in zip(self.clients, widths, strict=True))]
            )
        ]
        for server in self.servers:
            row = [server.ljust(first)]
            for client, width in zip(self.clients, widths, strict=True):
                cell = self.cell(server, client)
                shown = f"ok '{cell.answers[0]}'" if cell.ok else "FAIL"
                row.append(shown.ljust(width))
            lines.append("  ".join(row).rstrip())
        failures = [f"  {c.server} x {c.client}: {c.detail}" for c in self.cells if not c.ok]
        verdict = "every pair speaks the protocol" if self.ok else "failures:\n" + "\n".join(failures)
        return "\n".join([*lines, verdict])

    def as_json(self) -> dict[str, object]:
        return {
            "servers": self.servers,
            "clients": self.clients,
            "ok": self.ok,
            "cells": [asdict(c) for c in self.cells],
        }


def run_matrix(
    *,
    servers: list[str],
    clients: list[str],
    per_pair: int = 2,
    delay: float = 0.5,
    progress: Progress = quiet,
) -> Matrix:
    """Run ``per_pair`` clients of each client image against each server image."""
    cells = []
    for server in servers:
        with Lab(server_image=server, client_image=clients[0], delay=delay, purpose="matrix", progress=progress) as lab:
            for client in clients:
                runs = lab.run_clients(per_pair, image=client)
                bad = [run for run in runs if run.exit_code != 0 or run.received != "B"]
                cells.append(
                    Cell(server, client, not bad, [run.received for run in runs], bad[0].describe() if bad else "")
                )
                progress(f"{server} x {client}: {'ok' if not bad else 'FAIL'}")
    return Matrix(list(servers), list(clients), cells)
