"""``--view``: the live view beside a command in this process, over the event log the command writes.

    with live_view(options, events) as log:    # log: the file to record into (a temporary one if needed)
        ... record the run into log ...
    # here the view has lingered (--view-linger, or until Ctrl-C) and stopped

The URL goes to stderr before the run starts, so a browser can be opened on it and see the run from its
first event; after the run the page keeps showing the verdict until the linger ends.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from socklab.view.options import LiveViewOptions


@contextlib.contextmanager
def live_view(options: LiveViewOptions, events: str) -> Iterator[str]:
    """The event log to write (``events``, or a temporary file when none is named), served while in use."""
    if not options.view:
        yield events
        return
    from socklab.view.server import ViewError, ViewServer

    with contextlib.ExitStack() as stack:
        if not events:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="socklab-view-"))
            events = str(Path(folder) / "events.jsonl")
        try:
            server = ViewServer(events, port=options.view_port).start()
        except ViewError as exc:
            raise SystemExit(f"socklab: {exc}") from exc
        stack.callback(server.stop)
        print(f"view: {server.url}  (the run's live view)", file=sys.stderr, flush=True)
        yield events
        linger = None if options.view_linger < 0 else options.view_linger
        if linger != 0:
            until = "Ctrl-C" if linger is None else f"{linger:g} s or Ctrl-C"
            print(f"view: still serving {server.url} until {until}", file=sys.stderr, flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                server.wait(linger)
