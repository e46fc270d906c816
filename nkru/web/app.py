"""The Starlette application of `nkru serve`: alert list, timeline, map and event pages rendered from a
Store, plus /stream (server-sent events) pushing new alerts, event revisions and feed status to open pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from nkru.web import render, views
from nkru.web.render import Site
from nkru.web.store import Store, Update

STATIC = Path(__file__).with_name("static")
HEARTBEAT_SECONDS = 15.0


class Notifier:
    """Wakes every waiting stream when the store changes; `notify_threadsafe` may be called from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._changed = asyncio.Event()
        self.closed = False

    def notify_threadsafe(self) -> None:
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def close(self) -> None:
        self.closed = True
        self._fire()

    def close_threadsafe(self) -> None:
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.close)

    async def wait(self, timeout: float) -> bool:
        """True when a change came within `timeout` seconds."""
        changed = self._changed
        try:
            await asyncio.wait_for(changed.wait(), timeout)
            return True
        except TimeoutError:
            return False


def create_app(store: Store, as_of: datetime | None = None, live: bool = False,
               on_start: Callable[[], None] | None = None, on_stop: Callable[[], None] | None = None) -> Starlette:
    """The app over `store`; `as_of` fixes what "new" is measured from (default: the time of each request)."""
    state: dict[str, Notifier] = {}

    def site() -> Site:
        return Site(as_of=as_of or datetime.now(UTC), live=live)

    def page(template: str, name: str, snap, status_code: int = 200, **context) -> HTMLResponse:
        html = render.render(template, site(), page=name, **render.page_context(snap, site()), **context)
        return HTMLResponse(html, status_code=status_code)

    async def alerts_page(request: Request) -> HTMLResponse:
        snap = store.snapshot()
        return page("alerts.html", "alerts", snap, **render.alerts_context(snap, site()))

    async def events_page(request: Request) -> HTMLResponse:
        snap = store.snapshot()
        return page("events.html", "events", snap, **render.timeline_context(snap, site()))

    async def map_page(request: Request) -> HTMLResponse:
        snap = store.snapshot()
        return page("map.html", "map", snap, **render.map_context(snap, site()))

    async def event_page(request: Request) -> HTMLResponse:
        snap = store.snapshot()
        event = snap.events.get(request.path_params["event_id"])
        if event is None:
            return page("not_found.html", "event", snap, status_code=404,
                        message=f"No event {request.path_params['event_id']!r} is known (yet).")
        ctx = render.event_context(event, snap.alerts, site())
        return page("event.html", "event", snap, event=event, headline=ctx["headline"], ctx=ctx)

    async def health(request: Request) -> JSONResponse:
        snap = store.snapshot()
        return JSONResponse({"ok": True, "events": len(snap.events), "alerts": len(snap.alerts), "seq": snap.seq,
                             "status": snap.status, "unreadable": snap.unreadable})

    async def stream(request: Request) -> StreamingResponse:
        after = _after(request)
        return StreamingResponse(_events(store, state["notifier"], after), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        notifier = Notifier(asyncio.get_running_loop())
        state["notifier"] = notifier
        store.subscribe(notifier.notify_threadsafe)
        if on_start:
            on_start()
        try:
            yield
        finally:
            notifier.close()
            if on_stop:
                on_stop()

    def close_streams() -> None:
        """End every open /stream response (call when the server begins to shut down)."""
        if "notifier" in state:
            state["notifier"].close_threadsafe()

    routes = [Route("/", alerts_page), Route("/events", events_page), Route("/map", map_page),
              Route("/events/{event_id:path}", event_page), Route("/stream", stream), Route("/healthz", health),
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.close_streams = close_streams
    return app


def _after(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
    try:
        return max(int(raw), 0)
    except ValueError:
        return 0


def sse(kind: str, data: dict, seq: int | None = None) -> str:
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def update_message(store: Store, update: Update) -> str | None:
    """The server-sent event for one change, or None if its record is gone."""
    if update.kind == "status":
        return sse("status", {"text": update.key}, update.seq)
    if update.kind == "event":
        event = store.event(update.key)
        if event is None:
            return None
        return sse("event", {"event_id": event.event_id, "revision": event.revision,
                             "headline": views.headline(event)}, update.seq)
    alert = store.alert(update.key)
    if alert is None:
        return None
    event = store.event(alert.event_id)
    row = views.alert_row(alert, {event.event_id: event} if event else {})
    html = render.alert_item_html(row, Site(as_of=datetime.now(UTC), live=True))
    return sse("alert", {"alert_id": alert.alert_id, "summary": alert.summary, "html": html}, update.seq)


async def _events(store: Store, notifier: Notifier, after: int) -> AsyncIterator[str]:
    yield "retry: 2000\n\n"
    while not notifier.closed:
        updates = store.updates_after(after)
        if updates is None:
            yield sse("reload", {})
            return
        for update in updates:
            message = update_message(store, update)
            if message:
                yield message
            after = update.seq
        if not updates and not await notifier.wait(HEARTBEAT_SECONDS):
            yield ": keep-alive\n\n"
