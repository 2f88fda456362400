"""One client container's run as the host reads it back: exit code, output, and its result records."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from socklab import wire
from socklab.analysis.verdict import Interval

CLASSIC_LINE = re.compile(r"char from server = (.)")


@dataclass(frozen=True)
class ClientRun:
    """A client container that has exited: ours prints one JSON result per exchange; others may not."""

    name: str
    exit_code: int
    stdout: str
    stderr: str
    role: str = ""  # its role in the lab (client-5): what the page, the report and the verdict call it

    @cached_property
    def results(self) -> list[wire.ClientResult]:
        """Every result record it printed (one per exchange); empty for a client that prints no JSON."""
        return wire.parse_results(self.stdout)

    @property
    def result(self) -> wire.ClientResult | None:
        return self.results[-1] if self.results else None

    @property
    def received(self) -> str | None:
        """The answer's character: from the result record, or from the classic line any client prints."""
        if self.result is not None:
            return self.result.received_char
        match = CLASSIC_LINE.search(self.stdout)
        return match[1] if match else None

    @property
    def ok(self) -> bool:
        """Exited 0 having printed the right answer to what it sent."""
        if self.exit_code != 0:
            return False
        if self.result is not None:
            return self.result.ok and self.result.received == wire.expected_reply(self.result.sent)
        return self.received is not None

    @property
    def interval(self) -> Interval | None:
        """Connect to answer on the wall clock, when the client reported it and was answered; named by its
        role (client-5), else by the host name it reported (its container's id), else its container's name."""
        r = self.result
        if r is None or not r.ok or r.connected_at is None or r.answered_at is None:
            return None
        return Interval(self.role or r.host or self.name, r.connected_at, r.answered_at)

    def describe(self) -> str:
        return f"{self.name} exited {self.exit_code}: {(self.stdout + self.stderr).strip()[-500:]}"
