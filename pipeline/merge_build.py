"""Pure event building (no Beam): the mentions placed in one event, in order → its revisions and latest state.

An event is folded mention by mention into an `EventState` that holds its aggregates (actors, the most
precise place, the most specific date, the strongest modality, the claims timeline, each quantity's latest
figure, syndication clusters) and its mention references, so taking in a mention costs the same whatever
the event's size. Two kinds of output, both `CanonicalEvent`:

- a **revision** per mention taken in: revision r carries the aggregates after its mention and, in
  `mentions`, only that mention (`mentions_from` = r) and no claims timeline. This is what the alert stage
  judges; an event with n mentions costs n revisions of constant size, not n²/2 mention references.
- the **latest state**, once per fold flush per event that took mentions in: every mention
  (`mentions_from` = 1), the claims timeline, the aggregates of its latest revision. This is what the
  canonical topic (compacted, keyed by event id) and `events.jsonl` hold. A bounded replay flushes once, so
  each event's latest state is written once; a stream writes it after each tick that added to the event.

`event_id` comes from the event's first mention (`pipeline.merge_story`), so it depends only on the fixed
order, never on arrival. The claims timeline lists each distinct (source, quantity, figure) once, first
report first, sorted by article time; `independent_sources` counts syndication clusters (articles joined
through `cluster_id` / `duplicate_of`), not articles.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime

from pipeline.merge_match import MergeSettings, precision_rank, source_key
from pipeline.merge_story import AssignStep, Placed, article_order
from schemas.records import Actor, CanonicalEvent, Claim, EventMention, Location, MentionRef, Quantity

MODALITY_RANK = {"confirmed": 5, "asserted": 4, "claimed": 3, "denied": 2, "expected": 1,
                 "hypothetical_or_concern": 0}
NO_TIME = 2**62


@dataclass
class EventState:
    """One event's aggregates and mention references after the mentions taken in so far."""

    event_id: str
    type: str
    ontology_version: str = ""
    refs: list[MentionRef] = field(default_factory=list)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    clock: int | None = None  # the latest article time of a dated mention (micros): its clean-up clock
    actors: dict[str, Actor] = field(default_factory=dict)
    location: Location | None = None
    event_date: str | None = None
    modality: str | None = None
    claims: list[tuple[int, int, Claim]] = field(default_factory=list)  # sorted by (article time, position)
    claim_keys: set[tuple] = field(default_factory=set)
    # each quantity's latest claim, non-vague (True) and vague (False): (article time, position, figure)
    figures: dict[str, dict[bool, tuple[int, int, Quantity]]] = field(default_factory=dict)
    parent: dict[str, str] = field(default_factory=dict)  # syndication clusters (union-find over article ids)
    clusters: int = 0

    def add(self, m: EventMention) -> None:
        """Take in the next mention (in the fixed order)."""
        e, position = m.event, len(self.refs)
        self.refs.append(mention_ref(m))
        self.ontology_version = m.ontology_version
        if m.published is not None:
            self.first_seen = m.published if self.first_seen is None else min(self.first_seen, m.published)
            self.last_seen = m.published if self.last_seen is None else max(self.last_seen, m.published)
            at = article_order(m)[0]
            self.clock = at if self.clock is None else max(self.clock, at)
        for actor in e.actors:
            self.actors.setdefault(actor.code, actor)
        if e.location is not None and (self.location is None or precision_rank(e.location) >
                                       precision_rank(self.location)):
            self.location = e.location
        if e.event_date and (self.event_date is None or len(e.event_date) > len(self.event_date)):
            self.event_date = e.event_date
        if self.modality is None or MODALITY_RANK.get(e.modality) > MODALITY_RANK.get(self.modality):
            self.modality = e.modality
        self._claims(m, position)
        self._cluster(m)

    def _claims(self, m: EventMention, position: int) -> None:
        at = article_order(m)[0]
        for name, q in sorted(m.event.quantities.items()):
            key = (source_key(m.event.source_of_claim), name, q.low, q.high)
            if key in self.claim_keys:
                continue
            self.claim_keys.add(key)
            claim = Claim(source=m.event.source_of_claim, quantity=name, low=q.low, high=q.high, at=m.published,
                          article_id=m.article_id, modality=m.event.modality)
            bisect.insort(self.claims, (at, position, claim), key=lambda c: (c[0], c[1]))
            best = self.figures.setdefault(name, {})
            known = best.get(not q.vague)
            if known is None or (at, position) > known[:2]:
                best[not q.vague] = (at, position, q)

    def _cluster(self, m: EventMention) -> None:
        def root(x: str) -> str:
            if x not in self.parent:
                self.parent[x] = x
                self.clusters += 1
            while self.parent[x] != x:
                self.parent[x] = self.parent[self.parent[x]]
                x = self.parent[x]
            return x

        for other in (m.cluster_id, m.duplicate_of):
            if other:
                a, b = root(other), root(m.article_id)
                if a != b:
                    self.parent[a] = b
                    self.clusters -= 1
        root(m.article_id)

    def quantities(self) -> dict[str, Quantity]:
        """Each quantity at its latest claim (non-vague figures win over vague ones)."""
        return {name: (best.get(True) or best[False])[2] for name, best in self.figures.items()}

    def revision(self, latest: bool = False) -> CanonicalEvent:
        """The event after its latest mention: `latest` lists every mention and the claims timeline, else
        (a revision for the alert stage) only the latest mention."""
        n = len(self.refs)
        return CanonicalEvent(
            event_id=self.event_id, type=self.type, revision=n, first_seen=self.first_seen, last_seen=self.last_seen,
            actors=list(self.actors.values()), location=self.location, quantities=self.quantities(),
            event_date=self.event_date, modality=self.modality, mentions=list(self.refs) if latest else self.refs[-1:],
            mentions_from=1 if latest else n, independent_sources=self.clusters,
            claims=[claim for *_, claim in self.claims] if latest else [], ontology_version=self.ontology_version)


def fold(event_id: str, mentions: list[EventMention]) -> EventState:
    """A new event after `mentions`, in order."""
    state = EventState(event_id=event_id, type=mentions[0].event.type)
    for m in mentions:
        state.add(m)
    return state


@dataclass(frozen=True)
class Latest:
    """An event's latest state (all mentions, claims), as `BuildStep` emits it after each flush."""

    event: CanonicalEvent


@dataclass(frozen=True)
class BuildStep:
    """Per event id: take in each placed mention (in order), emit the revision it makes and, at the end of the
    flush, the event's latest state."""

    namespace: str = "merge"

    def order_key(self, placed: Placed):
        return placed.order

    def run(self, key: str, state: EventState | None, values: list[Placed]):
        # changed in place, as the fold's shard is: its outputs are built from copies of its containers
        state = state if state is not None else EventState(event_id=key, type=values[0].mention.event.type)
        out: list[CanonicalEvent | Latest] = []
        for placed in values:
            state.add(placed.mention)
            out.append(state.revision())
        out.append(Latest(state.revision(latest=True)))
        return state, out


def last_report(state: EventState) -> int | None:
    """The latest article time among an event's dated mentions (micros), its clock for state clean-up."""
    return state.clock


@dataclass(frozen=True)
class Merged:
    """What merging a bounded set of mentions gives: every revision (one per mention, in event and revision
    order) and each event's latest state (event id order)."""

    revisions: list[CanonicalEvent]
    events: list[CanonicalEvent]


def merge_batch(mentions: list[EventMention], settings: MergeSettings | None = None) -> Merged:
    """The folds `MergeEvents` runs, without Beam, on a bounded set of mentions."""
    assign = AssignStep(settings or MergeSettings())
    placed = assign.run("stories", None, sorted(mentions, key=assign.order_key))[1]
    by_event: dict[str, list[Placed]] = {}
    for item in placed:
        by_event.setdefault(item.event_id, []).append(item)
    build, revisions, events = BuildStep(), [], []
    for event_id in sorted(by_event):
        for out in build.run(event_id, None, sorted(by_event[event_id], key=build.order_key))[1]:
            (events.append(out.event) if isinstance(out, Latest) else revisions.append(out))
    return Merged(revisions, events)


# ---------------------------------------------------------------- the same, over a list of mentions

def canonical(event_id: str, mentions: list[EventMention]) -> CanonicalEvent:
    """The latest state of an event made of `mentions` (in order)."""
    return fold(event_id, mentions).revision(latest=True)


def mention_ref(m: EventMention) -> MentionRef:
    e = m.event
    return MentionRef(article_id=m.article_id, url=m.url, outlet=m.outlet, published=m.published, modality=e.modality,
                      source_of_claim=e.source_of_claim, quantities=e.quantities, evidence=e.evidence,
                      cluster_id=m.cluster_id)


def claims_timeline(mentions: list[EventMention]) -> list[Claim]:
    """Who said which figure when: each distinct (source, quantity, figure) once, ordered by article time."""
    return [claim for *_, claim in fold("", mentions).claims]


def independent_sources(mentions: list[EventMention]) -> int:
    """Syndication clusters among the mentions' articles (a reprint joins its original's cluster)."""
    return fold("", mentions).clusters
