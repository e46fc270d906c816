"""Pure event building (no Beam): the mentions placed in one event, in order → its `CanonicalEvent` revisions.

Contract of the output: revision r of an event holds exactly r mentions and the r-th (`mentions[-1]`) is the
one that revision r added; `event_id` comes from the event's first mention (`pipeline.merge_story`), so it
depends only on the fixed order, never on arrival. The claims timeline lists each distinct (source, quantity,
figure) once, first report first, sorted by article time; `independent_sources` counts syndication clusters
(articles joined through `cluster_id` / `duplicate_of`), not articles.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.merge_match import MergeSettings, precision_rank, source_key
from pipeline.merge_story import AssignStep, Placed, article_order
from schemas.records import Actor, CanonicalEvent, Claim, EventMention, MentionRef

MODALITY_RANK = {"confirmed": 5, "asserted": 4, "claimed": 3, "denied": 2, "expected": 1,
                 "hypothetical_or_concern": 0}
NO_TIME = 2**62


@dataclass(frozen=True)
class BuildStep:
    """Per event id: append each placed mention (in order) and emit the revision it makes."""

    namespace: str = "merge"

    def order_key(self, placed: Placed):
        return placed.order

    def run(self, key: str, state: list[EventMention] | None, values: list[Placed]):
        mentions = list(state or [])
        out = []
        for placed in values:
            mentions.append(placed.mention)
            out.append(canonical(placed.event_id, mentions))
        return mentions, out


def last_report(mentions: list[EventMention]) -> int | None:
    """The latest article time among an event's mentions (micros), its clock for state clean-up."""
    times = [article_order(m)[0] for m in mentions if m.published is not None]
    return max(times, default=None)


def merge_batch(mentions: list[EventMention], settings: MergeSettings | None = None) -> list[CanonicalEvent]:
    """Every revision a bounded set of mentions produces (the folds `MergeEvents` runs, without Beam)."""
    assign = AssignStep(settings or MergeSettings())
    placed = assign.run("stories", None, sorted(mentions, key=assign.order_key))[1]
    by_event: dict[str, list[Placed]] = {}
    for item in placed:
        by_event.setdefault(item.event_id, []).append(item)
    build, revisions = BuildStep(), []
    for event_id in sorted(by_event):
        revisions.extend(build.run(event_id, None, sorted(by_event[event_id], key=build.order_key))[1])
    return revisions


# ---------------------------------------------------------------- the canonical record

def canonical(event_id: str, mentions: list[EventMention]) -> CanonicalEvent:
    first, last = mentions[0], mentions[-1]
    times = [m.published for m in mentions if m.published is not None]
    claims = claims_timeline(mentions)
    return CanonicalEvent(
        event_id=event_id, type=first.event.type, revision=len(mentions),
        first_seen=min(times) if times else None, last_seen=max(times) if times else None,
        actors=merged_actors(mentions), location=best_location(mentions), quantities=latest_figures(mentions, claims),
        event_date=best_date(mentions), modality=max((m.event.modality for m in mentions), key=MODALITY_RANK.get),
        mentions=[mention_ref(m) for m in mentions], independent_sources=independent_sources(mentions),
        claims=claims, ontology_version=last.ontology_version)


def mention_ref(m: EventMention) -> MentionRef:
    e = m.event
    return MentionRef(article_id=m.article_id, url=m.url, outlet=m.outlet, published=m.published, modality=e.modality,
                      source_of_claim=e.source_of_claim, quantities=e.quantities, evidence=e.evidence,
                      cluster_id=m.cluster_id)


def merged_actors(mentions: list[EventMention]) -> list[Actor]:
    seen: dict[str, Actor] = {}
    for m in mentions:
        for actor in m.event.actors:
            seen.setdefault(actor.code, actor)
    return list(seen.values())


def best_location(mentions: list[EventMention]):
    """The most precise place reported (the first such)."""
    places = [m.event.location for m in mentions if m.event.location is not None]
    return max(places, key=precision_rank) if places else None


def best_date(mentions: list[EventMention]) -> str | None:
    """The most specific date the texts fix (day over month over year; the first such)."""
    dates = [m.event.event_date for m in mentions if m.event.event_date]
    return max(dates, key=len) if dates else None


def claims_timeline(mentions: list[EventMention]) -> list[Claim]:
    """Who said which figure when: each distinct (source, quantity, figure) once, ordered by article time."""
    seen, claims = set(), []
    for order, m in enumerate(mentions):
        for name, q in sorted(m.event.quantities.items()):
            key = (source_key(m.event.source_of_claim), name, q.low, q.high)
            if key in seen:
                continue
            seen.add(key)
            claims.append((article_order(m)[0], order, Claim(source=m.event.source_of_claim, quantity=name, low=q.low,
                                                             high=q.high, at=m.published, article_id=m.article_id,
                                                             modality=m.event.modality)))
    return [claim for *_, claim in sorted(claims, key=lambda c: (c[0], c[1]))]


def latest_figures(mentions: list[EventMention], claims: list[Claim]):
    """Each quantity at its latest claim (non-vague figures win over vague ones)."""
    by_article = {(m.article_id, name): q for m in mentions for name, q in m.event.quantities.items()}
    figures = {}
    for claim in claims:
        quantity = by_article[(claim.article_id, claim.quantity)]
        if claim.quantity in figures and quantity.vague and not figures[claim.quantity].vague:
            continue
        figures[claim.quantity] = quantity
    return figures


def independent_sources(mentions: list[EventMention]) -> int:
    """Syndication clusters among the mentions' articles (a reprint joins its original's cluster)."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for m in mentions:
        for other in (m.cluster_id, m.duplicate_of):
            if other:
                parent[root(other)] = root(m.article_id)
        root(m.article_id)
    return len({root(a) for a in parent})
