"""The observer's loop: every watched namespace's sockets sampled and its TCP frames passed on, from one thread.

``python3 -m observer`` reads ``watch``/``forget`` lines on stdin and writes ``protocol`` lines on stdout;
EOF on stdin (the host went away, or is done) ends it after one last sample of every namespace.

How often: a server's namespace every ``interval_s`` it is given (0.05 s); the others as often as they ask
(0.1 s) while all their samples together stay within ``BUDGET`` (a share of one core), at least every
``LONGEST``: a dump costs about 1.5 ms here whatever the namespace holds (see ``sockets.Sampler``), so 50
clients are sampled about every 0.5 s each on a quiet machine. The price of a sample is the median of the last
ones (a stall of a busy machine must not stretch everyone). Each namespace's interval is reported
(``sampling``) when it moves by half from the last one said, and how often it was sampled (``sampled``: mean
interval and longest gap) when it is forgotten. A turn of the loop samples the servers first, then handles
commands and samples the others for at most ``SLICE`` (``turn``).
"""

from __future__ import annotations

import base64
import errno
import os
import selectors
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import IO, Any

from .capture import Capture
from .netns import entered
from .protocol import ProtocolError, dump, parse
from .sockets import Changes, Sampler

BUDGET = 0.15  # seconds of sampling a second, for the namespaces that are not servers
FRAME_CAP = 2000  # frames a second passed on per namespace; the rest are counted (``skipped``)
COSTS = 64  # samples whose cost (the median) paces the others
LONGEST = 2.0  # seconds: the longest a namespace waits for its next sample, whatever the budget says
SLICE = 0.02  # seconds of client samples one turn of the loop takes at most before it looks again
REPORT_CHANGE = 0.5  # an interval is reported again when it moved by this share of the one last reported
GONE = (errno.ENETDOWN, errno.ENODEV, errno.ENXIO)  # a capture's interface went with its container


@dataclass
class Namespace:
    """One watched namespace: its sockets (made there), what was last reported, when it is due."""

    name: str
    pid: int
    wanted: float
    server: bool
    sampler: Sampler
    capture: Capture | None
    changes: Changes = field(default_factory=Changes)
    due: float = 0.0
    interval: float = 0.0
    reported_interval: float = 0.0
    window: float = 0.0  # the second the frame cap counts in
    frames: int = 0
    skipped: int = 0
    samples: int = 0  # taken, and when the first and the last were, and the longest gap between two
    first: float = 0.0
    last: float = 0.0
    max_gap: float = 0.0

    def sampled(self, now: float) -> None:
        if self.samples:
            self.max_gap = max(self.max_gap, now - self.last)
        else:
            self.first = now
        self.samples, self.last = self.samples + 1, now

    def close(self) -> None:
        self.sampler.close()
        if self.capture is not None:
            self.capture.close()


class Observer:
    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.spaces: dict[str, Namespace] = {}
        self.selector = selectors.DefaultSelector()
        self.costs: deque[float] = deque([0.0015], maxlen=COSTS)  # seconds the last samples took
        self.pending = b""
        self.commands: deque[str] = deque()  # read, not yet handled

    def say(self, msg: str, **fields: Any) -> None:
        self.out.write(dump(msg, **fields) + "\n")

    # --- commands -----------------------------------------------------------------------------------------
    def command(self, line: str) -> None:
        try:
            msg, fields = parse(line)
        except ProtocolError as exc:
            self.say("failed", t=time.time(), error=f"bad command {line[:200]!r}: {exc}")
            return
        if msg == "watch":
            self.watch(fields["ns"], fields["pid"], fields["interval_s"], fields["capture"], fields["server"])
        elif msg == "forget":
            self.forget(fields["ns"])
        else:
            self.say("failed", t=time.time(), error=f"not a command: {msg}")

    def watch(self, name: str, pid: int, interval: float, capture: bool, server: bool) -> None:
        """Open ``pid``'s namespace under ``name`` (a restarted container's new one replaces its old one)."""
        if name in self.spaces:
            self.forget(name, say=False)
        try:
            with entered(pid):
                sampler = Sampler()
                try:
                    tap = Capture() if capture else None
                except OSError:
                    sampler.close()
                    raise
        except OSError as exc:
            self.say("lost", ns=name, t=time.time(), error=f"cannot enter the namespace of pid {pid}: {exc}")
            return
        space = Namespace(name, pid, interval, server, sampler, tap, interval=interval, reported_interval=interval)
        self.spaces[name] = space
        if tap is not None:
            self.selector.register(tap.sock, selectors.EVENT_READ, space)
        self.say("watching", ns=name, t=time.time(), pid=pid, interval_s=interval, capture=tap is not None)
        self.sample(space, time.monotonic())

    def forget(self, name: str, *, say: bool = True) -> None:
        space = self.spaces.pop(name, None)
        if space is None:
            return
        self.drain(space)
        self.sample(space, time.monotonic())  # the last states: a closed connection is GONE
        if space.capture is not None:
            self.selector.unregister(space.capture.sock)
        space.close()
        if space.samples > 1:
            mean = (space.last - space.first) / (space.samples - 1)
            gap = round(space.max_gap, 4)
            self.say("sampled", ns=name, t=time.time(), samples=space.samples, mean_s=round(mean, 4), max_gap_s=gap)
        if say:
            self.say("forgotten", ns=name, t=time.time())

    # --- sockets ------------------------------------------------------------------------------------------
    def sample(self, space: Namespace, now: float) -> None:
        started = time.perf_counter()
        try:
            rows = space.sampler.sample()
        except OSError as exc:
            self.say("lost", ns=space.name, t=time.time(), error=f"sampling: {exc}")
            space.due = now + 1.0
            return
        when = time.time()
        self.costs.append(time.perf_counter() - started)
        space.sampled(now)
        for row in space.changes.update(rows):
            self.say("socket", ns=space.name, t=when, socket=row.fields())
        space.due = now + space.interval

    def pace(self) -> None:
        """Stretch the intervals of the namespaces that are not servers to keep their sampling in the budget."""
        others = [s for s in self.spaces.values() if not s.server]
        cost = sorted(self.costs)[len(self.costs) // 2]  # the median: a stall of the machine is no sample's price
        floor = min(len(others) * cost / BUDGET, LONGEST)
        for space in self.spaces.values():
            space.interval = space.wanted if space.server else max(space.wanted, floor)
            if abs(space.interval - space.reported_interval) > REPORT_CHANGE * space.reported_interval:
                space.reported_interval = space.interval
                interval, ms = round(space.interval, 4), round(cost * 1000, 3)
                self.say("sampling", ns=space.name, t=time.time(), interval_s=interval, cost_ms=ms)

    # --- frames -------------------------------------------------------------------------------------------
    def drain(self, space: Namespace) -> None:
        if space.capture is None:
            return
        try:
            frames = space.capture.frames()
        except OSError as exc:  # the interface is gone: the container stopped; its sockets are still read
            if exc.errno not in GONE:
                self.say("lost", ns=space.name, t=time.time(), error=f"capture: {exc}")
            self.selector.unregister(space.capture.sock)
            space.capture.close()
            space.capture = None
            return
        for when, data, outgoing in frames:
            if int(when) != space.window:
                if space.skipped:
                    self.say("skipped", ns=space.name, t=time.time(), frames=space.skipped)
                space.window, space.frames, space.skipped = int(when), 0, 0
            space.frames += 1
            if space.frames > FRAME_CAP:
                space.skipped += 1
                continue
            frame = base64.b64encode(data).decode()
            self.say("frame", ns=space.name, t=when, frame=frame, outgoing=outgoing)

    # --- the loop -----------------------------------------------------------------------------------------
    def read_commands(self, fd: int) -> bool:
        """Queue the complete lines on stdin; False at EOF."""
        data = os.read(fd, 65536)
        if not data:
            return False
        self.pending += data
        *lines, self.pending = self.pending.split(b"\n")
        self.commands.extend(line.decode(errors="replace") for line in lines if line.strip())
        return True

    def turn(self) -> None:
        """The servers due, then commands and the others due for at most SLICE (the rest wait a turn): a crowd
        of clients started or due at once never holds a server's sample back."""
        started = time.monotonic()
        for space in [s for s in self.spaces.values() if s.server and s.due <= started]:
            self.sample(space, time.monotonic())
        while self.commands and time.monotonic() - started < SLICE:
            self.command(self.commands.popleft())
        now = time.monotonic()
        for space in sorted((s for s in self.spaces.values() if s.due <= now), key=lambda s: s.due):
            if time.monotonic() - started > SLICE:
                break
            self.sample(space, time.monotonic())

    def run(self, stdin: int) -> None:
        self.selector.register(stdin, selectors.EVENT_READ, None)
        running = True
        while running or self.commands:
            self.pace()
            now = time.monotonic()
            due = min((s.due for s in self.spaces.values()), default=now + 1.0)
            wait = 0.0 if self.commands or not running else max(0.0, due - now)
            for key, _events in self.selector.select(timeout=wait):
                if key.data is None:
                    if not self.read_commands(stdin):
                        running = False
                        self.selector.unregister(stdin)
                elif key.data.name in self.spaces:
                    self.drain(key.data)
            self.turn()
            self.out.flush()
        for name in list(self.spaces):
            self.forget(name, say=False)
        self.out.flush()


def main() -> int:
    Observer(sys.stdout).run(sys.stdin.fileno())
    return 0
