"""Records → HTML: the Jinja environment and one context builder per view, shared by `nkru serve` (pages
linked by URL, a live stream) and `nkru report` (one file, links to anchors, CSS and JS inline).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from nkru.web import views
from nkru.web.charts import MODALITY_COLOURS, claims_chart, legend_swatch, timeline_chart
from nkru.web.geo import Place, map_view
from nkru.web.store import Snapshot
from nkru.web.svg import fmt_range
from schemas.records import Alert, CanonicalEvent

HERE = Path(__file__).parent
PAGES = {"alerts": ("/", "Alerts"), "events": ("/events", "Timeline"), "map": ("/map", "Map")}


@dataclass(frozen=True)
class Site:
    """How pages link and what they load: the served app, or the static report (`report=True`)."""

    as_of: datetime
    report: bool = False
    live: bool = False
    title: str = "nkru-monitor"

    def event_href(self, event_id: str) -> str:
        return f"#event-{event_id}" if self.report else "/events/" + quote(event_id, safe="")

    def page_href(self, page: str) -> str:
        return f"#{page}" if self.report else PAGES[page][0]

    def place_href(self, place: Place) -> str:
        return f"#{place.anchor}"


def safe_url(url: str | None) -> str | None:
    """The URL if it is http(s); anything else (javascript:, data:) from a feed is never made a link."""
    if url and urlsplit(url.strip()).scheme.lower() in ("http", "https"):
        return url.strip()
    return None


def _fmt_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "date unknown"


def _fmt_date(value: datetime | None) -> str:
    return value.strftime("%-d %b %Y") if value else "date unknown"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(fmt_time=_fmt_time, fmt_date=_fmt_date, label=views.label, safe_url=safe_url,
                       safe_urls=lambda urls: [u for u in map(safe_url, urls) if u],
                       iso=lambda v: v.isoformat() if v else "")
    env.globals.update(fmt_range=fmt_range, PAGES=PAGES, MODALITY_COLOURS=MODALITY_COLOURS, views=views)
    return env


@lru_cache(maxsize=1)
def inline_assets() -> dict[str, Markup]:
    """The stylesheet and script, to be inlined in the static report."""
    return {name: Markup((HERE / "static" / f"app.{name}").read_text(encoding="utf-8")) for name in ("css", "js")}


def render(template: str, site: Site, **context: Any) -> str:
    return environment().get_template(template).render(site=site, assets=inline_assets() if site.report else {},
                                                       **context)


def alert_item_html(row: views.AlertRow, site: Site) -> str:
    """One alert's list item (the live stream sends it to open pages)."""
    return str(environment().get_template("_alerts.html").module.alert_item(row, site))  # type: ignore[attr-defined]


def alerts_context(snap: Snapshot, site: Site) -> dict[str, Any]:
    events = list(snap.events.values())
    return {"rows": views.alert_rows(snap.alerts, snap.events),
            "options": views.filter_options(snap.alerts, events)}


def timeline_context(snap: Snapshot, site: Site) -> dict[str, Any]:
    events = views.events_newest_first(list(snap.events.values()))
    lanes = []
    for etype in views.EVENT_TYPES:
        lane = [_timeline_item(e, site) for e in events if e.type == etype and views.event_time(e) is not None]
        if lane:
            lanes.append((etype, lane))
    return {"timeline_svg": timeline_chart(lanes, site.as_of), "events": events,
            "options": views.filter_options([], events), "undated": sum(views.event_time(e) is None for e in events)}


def _timeline_item(event: CanonicalEvent, site: Site) -> dict[str, Any]:
    start = views.event_time(event)
    end = max(start, event.last_seen or start)  # type: ignore[type-var]
    n = len(event.mentions)
    text = (f"{views.headline(event)} — {event.modality}, {n} mention{'s' if n != 1 else ''}, "
            f"first reported {_fmt_date(start)}")
    return {"event": event, "href": site.event_href(event.event_id), "new": views.is_new(event, site.as_of),
            "start": start, "end": end, "mentions": n, "modality": event.modality, "text": text}


def map_context(snap: Snapshot, site: Site) -> dict[str, Any]:
    return {"map": map_view(list(snap.events.values()), site.place_href)}


def event_context(event: CanonicalEvent, alerts: list[Alert], site: Site) -> dict[str, Any]:
    groups = views.claims_by_quantity(event)
    charts = []
    for n, group in enumerate(groups):
        legend = [(legend_swatch(i), s.source, f"{len(s.points)} figure{'s' if len(s.points) != 1 else ''}")
                  for i, s in enumerate(group.series)]
        legend += [(legend_swatch(len(group.series) + i, remark=True), source, "no figure given: ✕ on the time axis")
                   for i, source in enumerate(group.figureless_sources)]
        charts.append({"group": group, "svg": claims_chart(group, f"claims-{_dom_id(event.event_id)}-{n}", event.last_seen),
                       "legend": legend})
    related = sorted((a for a in alerts if a.event_id == event.event_id),
                     key=lambda a: (a.revision, a.alert_id))
    return {"event": event, "headline": views.headline(event), "mentions": views.sorted_mentions(event),
            "history": views.modality_history(event), "charts": charts, "alerts": related,
            "claim_rows": claim_rows(event, groups),
            "is_new": views.is_new(event, site.as_of)}


def claim_rows(event: CanonicalEvent, groups: list[views.QuantityClaims]) -> list[dict[str, Any]]:
    """Every claim for the table under the charts, charted or not, by quantity then date."""
    refs = {m.article_id: m for m in event.mentions}
    rows = []
    for group in groups:
        for series in group.series:
            for p in series.points:
                rows.append(_claim_row(p.claim, p.at, p.source, refs, None))
        for claim, why, at in group.uncharted:
            rows.append(_claim_row(claim, at, claim.source or views.UNATTRIBUTED, refs, f"{why}"))
    return sorted(rows, key=lambda r: (r["quantity"], r["at"] is None, r["at"] or datetime.min.replace(tzinfo=UTC)))


def _claim_row(claim, at, source, refs, note) -> dict[str, Any]:
    ref = refs.get(claim.article_id)
    return {"at": at, "source": source, "quantity": claim.quantity, "figure": fmt_range(claim.low, claim.high),
            "modality": claim.modality, "outlet": ref.outlet if ref else None,
            "url": safe_url(ref.url) if ref else None, "note": note}


def _dom_id(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text)


def page_context(snap: Snapshot, site: Site) -> dict[str, Any]:
    """What base.html needs on every page: the change number live updates start after, status, counts."""
    return {"seq": snap.seq, "status": snap.status, "unreadable": snap.unreadable,
            "counts": {"events": len(snap.events), "alerts": len(snap.alerts)}}
