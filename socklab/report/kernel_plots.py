"""The kernel's three views as the report's inline SVG pictures (matplotlib, no script): the sockets' states
and the listen queue in time, a few connections' ladders (``capture.diagram``, as ``socklab trace`` draws
one), and the server's processes as lanes of system calls. What they show is ``report.kernel``'s.
"""

from __future__ import annotations

import re
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from socklab.capture.diagram import Host, draw_sequence
from socklab.report.kernel import Connection, KernelView, Lane, SocketTrack, ip_of
from socklab.report.plots import _save, _svg

MAX_SOCKET_ROWS = 40
MAX_LADDERS = 3
MAX_LANES = 16
CHAR = 0.0065  # a 7-point character's width on the lanes' 8.5-inch axis, as a share of its span
STATE_COLOURS = {
    "LISTEN": "#20232a", "SYN_SENT": "#e65100", "SYN_RECV": "#ef6c00", "ESTABLISHED": "#1a7f37",
    "FIN_WAIT1": "#6a1b9a", "FIN_WAIT2": "#8e24aa", "CLOSING": "#6a1b9a", "TIME_WAIT": "#37474f",
    "CLOSE_WAIT": "#1565c0", "LAST_ACK": "#42a5f5", "CLOSE": "#bbbbbb",
}  # fmt: skip
CALL_GROUPS = (
    (re.compile(r"^accept"), "accept", "#1565c0"),
    (re.compile(r"^(fork|vfork|clone|clone3)$"), "fork", "#6a1b9a"),
    (re.compile(r"^(read|recv|recvfrom|recvmsg|readv)$"), "read", "#2e7d32"),
    (re.compile(r"^(write|send|sendto|sendmsg|writev)$"), "write", "#e65100"),
    (re.compile(r"sleep$"), "sleep", "#9e9d24"),
    (re.compile(r"^(close|shutdown)$"), "close", "#37474f"),
    (re.compile(r"^(epoll_wait|epoll_pwait|select|pselect6|poll|ppoll|wait4|waitid)$"), "wait", "#00838f"),
    (re.compile(r"^(socket|bind|listen|setsockopt)$"), "socket, bind, listen", "#5d4037"),
)


def call_colour(call: str) -> str:
    return next((colour for pattern, _, colour in CALL_GROUPS if pattern.search(call)), "#90a4ae")


def _connection_rows(view: KernelView) -> list[SocketTrack]:
    tracks = [t for host in view.sockets.values() for t in host.values() if not t.listener and t.states]
    clients = {t.host for t in tracks if "client" in t.host}

    def order(track: SocketTrack) -> tuple[str, int, int]:
        client = track.host if track.host in clients else view.name(track.peer)
        stem, _, number = client.rpartition("-")
        return (stem, int(number) if number.isdigit() else 0, 0 if track.host == client else 1)

    return sorted(tracks, key=order)


def sockets_picture(view: KernelView) -> str | None:
    """The listen queue against its backlog + 1, and a strip per connection's socket coloured by its state."""
    listeners = [t for host in view.sockets.values() for t in host.values() if t.listener]
    rows = _connection_rows(view)
    if not listeners and not rows:
        return None
    shown = rows[:MAX_SOCKET_ROWS]
    starts = [t.states[0][0] for host in view.sockets.values() for t in host.values() if t.states]
    origin = min(starts)

    def draw(path: Path) -> None:
        height = 1.0 + 1.7 * bool(listeners) + 0.24 * len(shown) + 0.8
        fig = Figure(figsize=(9.5, min(16.0, height)), layout="constrained")
        ratios = [1.7] * bool(listeners) + [max(1.0, 0.24 * len(shown))] * bool(shown)
        axes = list(fig.subplots(len(ratios), 1, sharex=True, height_ratios=ratios, squeeze=False)[:, 0])
        if listeners:
            _queue(axes.pop(0), listeners, origin, view.end)
        if shown:
            _strips(axes[0], shown, view, origin, more=len(rows) - len(shown))
        fig.get_axes()[-1].set_xlabel("seconds since the first socket was seen", fontsize=9)
        _save(fig, path)

    return _svg(draw)


def _queue(ax: object, listeners: list[SocketTrack], origin: float, end: float) -> None:
    from matplotlib.axes import Axes

    assert isinstance(ax, Axes)
    for track in listeners:
        xs = [t - origin for t, _ in track.queue] + [end - origin]
        ys = [n for _, n in track.queue] + [track.queue[-1][1] if track.queue else 0]
        ax.step(
            xs,
            ys,
            where="post",
            color="#1565c0",
            linewidth=1.6,
            label=f"{track.host} {track.local}: waiting for accept()",
        )
        if track.holds is not None:
            ax.axhline(track.holds, color="#c62828", linestyle="--", linewidth=1)
            ax.text(xs[0], track.holds + 0.15, f"full: listen({track.backlog}) holds backlog + 1 = {track.holds}",
                    color="#c62828", fontsize=8, va="bottom")  # fmt: skip
    top = max([t.holds or 0 for t in listeners] + [t.longest for t in listeners])
    ax.set_ylim(-0.2, top + 1.2)
    ax.set_ylabel("accept queue", fontsize=8)
    ax.legend(fontsize=7, loc="upper right", frameon=False)
    ax.grid(axis="x", color="0.9")


def _strips(ax: object, rows: list[SocketTrack], view: KernelView, origin: float, *, more: int) -> None:
    from matplotlib.axes import Axes

    assert isinstance(ax, Axes)
    seen: set[str] = set()
    for y, track in enumerate(rows):
        ends = [t for t, _ in track.states[1:]] + [view.end]
        for (start, state), stop in zip(track.states, ends, strict=True):
            if state == "GONE":
                continue
            seen.add(state)
            ax.barh(
                y, max(stop - start, 0.002), left=start - origin, height=0.7, color=STATE_COLOURS.get(state, "#999")
            )
    labels = [
        f"{t.host}: to {view.name(t.peer)}" if "client" in t.host else f"{t.host}: from {view.name(t.peer)}"
        for t in rows
    ]
    ax.set_yticks(range(len(rows)), labels, fontsize=7 if len(rows) > 16 else 8)
    ax.set_ylim(len(rows) - 0.5, -0.6)
    ax.grid(axis="x", color="0.9")
    handles = [Patch(color=STATE_COLOURS[s], label=s) for s in STATE_COLOURS if s in seen]
    columns = min(6, len(handles) or 1)
    ax.legend(handles=handles, fontsize=7, ncols=columns, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    if more:
        ax.set_title(f"the first {len(rows)} sockets; {more} more are in the event log", fontsize=8, loc="right")


def chosen_connections(view: KernelView) -> list[Connection]:
    """The connections worth a ladder: the first, the one with the most retransmissions, the last."""
    conns = [c for c in view.connections.values() if c.rungs]
    if not conns:
        return []
    by_start = sorted(conns, key=lambda c: min(r.sent(view.names) for r in c.rungs))
    worst = max(conns, key=lambda c: c.retransmissions)
    picked = [by_start[0], *([worst] if worst.retransmissions else []), by_start[-1]]
    unique: list[Connection] = []
    for conn in picked:
        if conn not in unique:
            unique.append(conn)
    return unique[:MAX_LADDERS]


def ladder_picture(view: KernelView, conn: Connection) -> str:
    client = Host(view.name(conn.client), ip_of(conn.client))
    server = Host(view.name(conn.server), ip_of(conn.server))
    segments = conn.segments(view.names)
    again = f", {conn.retransmissions} sent again" if conn.retransmissions else ""
    title = f"{client.name} and {server.name}: {len(segments)} segments{again}"
    return _svg(lambda path: draw_sequence(segments, client, server, path, title=title))


def lanes_picture(view: KernelView, host: str) -> str | None:
    """The host's processes as lanes: a bar per call as long as it took (blocked), fork lines, late tracers."""
    lanes = sorted(view.lanes.get(host, {}).values(), key=lambda lane: lane.born)
    if not lanes:
        return None
    shown = lanes if len(lanes) <= MAX_LANES else [lanes[0], *lanes[-(MAX_LANES - 1) :]]
    origin = min(lane.attached[0] if lane.attached else lane.born for lane in shown)
    span = max(view.end - origin, 0.001)

    def draw(path: Path) -> None:
        fig = Figure(figsize=(10.0, 1.4 + 0.45 * len(shown)), layout="constrained")
        ax = fig.subplots()
        row = {lane.pid: y for y, lane in enumerate(shown)}
        for y, lane in enumerate(shown):
            _lane(ax, lane, y, origin, span, view.end)
            if lane.forked is not None and lane.parent in row:
                ax.plot(
                    [lane.forked - origin] * 2, [row[lane.parent], y], color="#6a1b9a", linestyle=":", linewidth=1.2
                )
        names = [
            f"pid {lane.pid}" + (f" (forked by {lane.parent})" if lane.parent is not None else "") for lane in shown
        ]
        ax.set_yticks(range(len(shown)), names, fontsize=8)
        ax.set_ylim(len(shown) - 0.4, -0.7)
        ax.set_xlim(-0.01 * span, span * 1.01)
        ax.set_xlabel("seconds since the first traced call", fontsize=9)
        ax.grid(axis="x", color="0.9")
        ax.set_axisbelow(True)
        fig.legend(handles=[Patch(color=colour, label=name) for _, name, colour in CALL_GROUPS],
                   loc="outside lower center", ncols=8, fontsize=7, frameon=False)  # fmt: skip
        if len(lanes) > len(shown):
            ax.set_title(f"{len(lanes) - len(shown)} other processes not drawn", fontsize=8, loc="right")
        _save(fig, path)

    return _svg(draw)


def _lane(ax: object, lane: Lane, y: int, origin: float, span: float, end: float) -> None:
    from matplotlib.axes import Axes

    assert isinstance(ax, Axes)
    if lane.late and lane.attached is not None:
        ax.text(lane.attached[0] - origin, y + 0.42, "traced from here: attached late", fontsize=7, color="#e65100")
    under: list[tuple[float, float, str]] = []  # (how long the call took, where, its name): labels below
    for call in lane.calls:
        never = call.seconds is None
        width = (end - call.t) if never else max(call.seconds or 0.0, span * 0.002)
        colour = call_colour("accept" if call.for_accept else call.call)
        ax.barh(y, width, left=call.t - origin, height=0.5, color=colour, alpha=0.45 if never else 1.0)
        name = call.call.removeprefix("clock_") + (": waiting for a connection" if call.for_accept else "")
        text = name + (" (never returned)" if never else f" {call.seconds:.2f} s")
        if width > span * CHAR * (len(text) + 1):  # the label fits in its bar
            ax.text(call.t - origin + span * CHAR / 2, y, text, fontsize=7, va="center", color="white")
        else:
            under.append((width, call.t - origin, call.call))
    placed: list[tuple[float, float]] = []
    for _, x, name in sorted(under, reverse=True):  # the longest calls first: accept before socket, bind, listen
        end = x + span * CHAR * (len(name) + 1)
        if all(end < a or x > b for a, b in placed):
            ax.text(x, y + 0.36, name, fontsize=6, va="top", color="#333")
            placed.append((x, end))
