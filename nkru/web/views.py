"""View models: canonical events and alerts → what the pages show (rows, headlines, histories, claim series).

Pure functions over the pydantic records; no I/O, no clock (the caller passes `as_of`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import get_args

from nkru.web.svg import fmt_range
from schemas.records import Alert, CanonicalEvent, Claim, EventType, MentionRef, Modality, parse_timestamp

EVENT_TYPES: tuple[str, ...] = get_args(EventType)
MODALITIES: tuple[str, ...] = get_args(Modality)
SEVERITIES = ("high", "medium", "low")
KIND_MODALITY = {"confirmation": "confirmed", "denial": "denied"}
NEW_WINDOW = timedelta(hours=24)
UNATTRIBUTED = "unattributed"


def label(name: str | None) -> str:
    """'troop_deployment' → 'Troop deployment'; 'killed_or_wounded' → 'Killed or wounded'."""
    if not name:
        return ""
    text = name.replace("_", " ")
    return text[:1].upper() + text[1:]


def event_time(event: CanonicalEvent) -> datetime | None:
    """When the event was first reported (the timeline's x): first_seen, else its own date."""
    if event.first_seen is not None:
        return event.first_seen
    try:
        return parse_timestamp(event.event_date)
    except ValueError:
        return None


def is_new(event: CanonicalEvent, as_of: datetime) -> bool:
    first = event_time(event)
    return first is not None and as_of - NEW_WINDOW < first <= as_of


def actors_line(event: CanonicalEvent) -> str:
    """'PRK → RUS' (agents → recipients/targets), other roles after a semicolon."""
    agents = [a.code for a in event.actors if a.role == "agent"]
    others = [a.code for a in event.actors if a.role in ("recipient", "target")]
    text = " → ".join(part for part in (", ".join(agents), ", ".join(others)) if part)
    return text or ", ".join(a.code for a in event.actors)


def place_line(event: CanonicalEvent) -> str:
    loc = event.location
    if loc is None:
        return ""
    if loc.precision == "country":
        return f"{loc.name} (country only)"
    return loc.name


def headline(event: CanonicalEvent) -> str:
    """'Troop deployment · PRK → RUS · Kursk · troops 10,000–12,000'."""
    parts = [label(event.type), actors_line(event), place_line(event)]
    figures = [f"{label(name).lower()} {fmt_range(q.low, q.high)}" for name, q in event.quantities.items()
               if not q.vague and (q.low is not None or q.high is not None)]
    parts.extend(figures[:2])
    return " · ".join(p for p in parts if p)


@dataclass(frozen=True)
class AlertRow:
    alert: Alert
    modality: str
    has_event: bool

    @property
    def sort_key(self) -> str:
        return self.alert.event_time.isoformat() if self.alert.event_time else ""


def alert_rows(alerts: list[Alert], events: dict[str, CanonicalEvent]) -> list[AlertRow]:
    """Alerts newest first (by event time; undated last), each with the modality of its event."""
    rows = [alert_row(a, events) for a in alerts]
    return sorted(rows, key=lambda r: r.sort_key, reverse=True)


def alert_row(alert: Alert, events: dict[str, CanonicalEvent]) -> AlertRow:
    event = events.get(alert.event_id)
    modality = event.modality if event else KIND_MODALITY.get(alert.kind, "asserted")
    return AlertRow(alert, modality, event is not None)


@dataclass(frozen=True)
class ModalityStep:
    modality: str
    at: datetime | None
    outlet: str | None
    source: str | None
    mentions: int


def modality_history(event: CanonicalEvent) -> list[ModalityStep]:
    """Mentions in time order collapsed into runs of one modality: claimed → denied → confirmed."""
    steps: list[ModalityStep] = []
    for ref in sorted_mentions(event):
        if steps and steps[-1].modality == ref.modality:
            last = steps[-1]
            steps[-1] = ModalityStep(last.modality, last.at, last.outlet, last.source, last.mentions + 1)
        else:
            steps.append(ModalityStep(ref.modality, ref.published, ref.outlet, ref.source_of_claim, 1))
    return steps


def sorted_mentions(event: CanonicalEvent) -> list[MentionRef]:
    return sorted(event.mentions, key=lambda m: (m.published is None, m.published or datetime.min))


@dataclass(frozen=True)
class ClaimPoint:
    source: str
    at: datetime
    low: int
    high: int
    claim: Claim
    outlet: str | None

    @property
    def mid(self) -> float:
        return (self.low + self.high) / 2


@dataclass
class ClaimSeries:
    source: str
    points: list[ClaimPoint] = field(default_factory=list)


@dataclass
class QuantityClaims:
    """All claims about one quantity of an event: the series to chart and what cannot be charted."""

    quantity: str
    series: list[ClaimSeries]
    uncharted: list[tuple[Claim, str, datetime | None]]  # (claim, why, when)

    @property
    def figureless_sources(self) -> list[str]:
        """Sources that spoke (a denial, a vague word) without a figure but with a date: marked on the axis."""
        charted = {s.source for s in self.series}
        out: list[str] = []
        for claim, why, at in self.uncharted:
            name = claim.source or UNATTRIBUTED
            if why == "no figure" and at is not None and name not in charted and name not in out:
                out.append(name)
        return out


def claims_by_quantity(event: CanonicalEvent) -> list[QuantityClaims]:
    """Group claims by quantity then source; a claim without `at` takes its article's publication time."""
    published = {m.article_id: m for m in event.mentions}
    out: dict[str, QuantityClaims] = {}
    for claim in event.claims:
        group = out.setdefault(claim.quantity, QuantityClaims(claim.quantity, [], []))
        ref = published.get(claim.article_id)
        at = claim.at or (ref.published if ref else None)
        low, high = claim.low, claim.high
        if low is None and high is None:
            group.uncharted.append((claim, "no figure", at))
            continue
        if at is None:
            group.uncharted.append((claim, "no date", None))
            continue
        bound = low if low is not None else high  # one open end ("more than 20,000") is charted at its bound
        assert bound is not None
        low, high = (bound if low is None else low), (bound if high is None else high)
        source = claim.source or UNATTRIBUTED
        series = next((s for s in group.series if s.source == source), None)
        if series is None:
            series = ClaimSeries(source)
            group.series.append(series)
        series.points.append(ClaimPoint(source, at, low, high, claim, ref.outlet if ref else None))
    for group in out.values():
        for series in group.series:
            series.points.sort(key=lambda p: p.at)
    return list(out.values())


@dataclass(frozen=True)
class FilterOptions:
    types: list[str]
    actors: list[str]
    modalities: list[str]
    severities: list[str]


def filter_options(alerts: list[Alert], events: list[CanonicalEvent]) -> FilterOptions:
    """Choices for the filter menus: every type, modality and severity; the actor codes the data names."""
    actors = {code for a in alerts for code in a.actors} | {a.code for e in events for a in e.actors}
    return FilterOptions(list(EVENT_TYPES), sorted(actors), list(MODALITIES), list(SEVERITIES))


def event_actor_codes(event: CanonicalEvent) -> str:
    return " ".join(sorted({a.code for a in event.actors}))


def events_newest_first(events: list[CanonicalEvent]) -> list[CanonicalEvent]:
    return sorted(events, key=lambda e: (event_time(e) is not None, event_time(e) or datetime.min), reverse=True)
