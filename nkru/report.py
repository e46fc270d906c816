"""`nkru report`: a replay output directory → one self-contained HTML file (alerts, timeline, map and every
event page with its claims chart; CSS, JS and SVG inline, no network needed to open it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from nkru.web import render, views
from nkru.web.io import load_replay_dir
from nkru.web.render import Site
from nkru.web.store import Snapshot, Store


def build_report(snap: Snapshot, as_of: datetime, title: str = "nkru-monitor", source: str | None = None) -> str:
    """The report's HTML for the records in `snap`, "new" measured from `as_of`."""
    site = Site(as_of=as_of, report=True, title=title)
    events = views.events_newest_first(list(snap.events.values()))
    return render.render(
        "report.html", site, page="report", **render.page_context(snap, site), source=source,
        new_events=[e for e in events if views.is_new(e, as_of)],
        alerts=render.alerts_context(snap, site), timeline=render.timeline_context(snap, site),
        map=render.map_context(snap, site),
        event_pages=[render.event_context(e, snap.alerts, site) for e in events])


def default_as_of(snap: Snapshot) -> datetime | None:
    """The latest time the data knows (last report of any event, or any alert's event time)."""
    times = [e.last_seen for e in snap.events.values() if e.last_seen] + \
            [a.event_time for a in snap.alerts if a.event_time]
    return max(times) if times else None


def write_report(from_dir: Path, out: Path, as_of: datetime | None = None, title: str = "nkru-monitor") -> Snapshot:
    """Read `from_dir`, write the report to `out`; return what was read. `as_of` defaults to the data's latest time."""
    store = Store()
    load_replay_dir(from_dir, store)
    snap = store.snapshot()
    when = as_of or default_as_of(snap) or datetime.now(UTC)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(build_report(snap, when, title, source=str(from_dir)), encoding="utf-8")
    return snap
