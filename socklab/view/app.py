"""The view's web app: the page, its assets (all local) and the run's events as server-sent events.

    GET /            the page (static/index.html)
    GET /static/...  its script and style
    GET /events      text/event-stream: the log's lines, each message the lines one look at the file found
                     (up to 500), as a JSON list; ``id`` = the last line's number

A browser that reconnects sends ``Last-Event-ID`` (EventSource does so by itself) and gets only the lines
after it; a new page gets the whole log from line 1, then the lines as the run writes them. Each item is the
event as JSON plus ``n`` (its line number) and ``now`` (this host's clock when it was sent), so the page can
run a wait's countdown on the events' clock even when the browser's clock differs; a line that is no event
is ``{"n", "now", "error"}``. One message per look, not per line: 50 clients' packets at once are a few
messages (a message per line cost the stream ~50 µs each, 50 ms for a burst of 1,000).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from socklab.view.tail import Line, follow_batches

STATIC = Path(__file__).parent / "static"
RETRY_MS = 500  # how soon a browser that lost the stream tries again
PING_SECONDS = 10


def item(line: Line, now: float) -> dict[str, Any]:
    """One line of the log as the page reads it."""
    if line.event is None:
        return {"n": line.number, "error": line.error, "now": now}
    event = line.event
    return {"n": line.number, "t": event.t, "kind": str(event.kind), "host": event.host, "data": event.data, "now": now}


def message(lines: list[Line], now: float | None = None) -> ServerSentEvent:
    """Lines of the log (at least one) as one SSE message, ``id`` = the last one's number."""
    now = time.time() if now is None else now
    data = json.dumps([item(line, now) for line in lines], default=str)
    return ServerSentEvent(data=data, id=str(lines[-1].number), event="events", retry=RETRY_MS)


def last_event_id(request: Request) -> int:
    """The line a reconnecting browser saw last (its Last-Event-ID header, or ``?after=``), 0 for none."""
    raw = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
    try:
        return max(0, int(raw))
    except ValueError:
        return 0


def create_app(log: str | Path, *, stop: threading.Event | None = None) -> Starlette:
    """The app serving the view of the event log ``log``; ``stop`` ends every stream (the server's shutdown)."""
    path = Path(log)
    stopping = stop or threading.Event()

    async def page(_request: Request) -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def info(_request: Request) -> JSONResponse:
        return JSONResponse({"log": str(path.resolve()), "now": time.time()})

    async def stream(request: Request) -> EventSourceResponse:
        after = last_event_id(request)

        async def messages() -> AsyncIterator[ServerSentEvent]:
            async for lines in follow_batches(path, after=after, stop=stopping):
                yield message(lines)

        return EventSourceResponse(messages(), ping=PING_SECONDS, headers={"Cache-Control": "no-store"})

    return Starlette(
        routes=[
            Route("/", page),
            Route("/info", info),
            Route("/events", stream),
            Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        ]
    )
