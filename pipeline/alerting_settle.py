"""One `new` alert per real event across event ids: `SettleStep` (one key, article-time order) raises a `new`
whose event is the same news as one already announced under another event id (`same_news`: merging left one
story split) as an `update` instead; its state is the views of announced events, bounded by
`UNDATED_REACH_DAYS` of article time and a count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.merge_match import (
    DAY,
    ROUTE_TYPES,
    MergeSettings,
    date_interval,
    hull,
    place_relation,
    quantity_family,
    report_interval,
)
from pipeline.stages import stable_id
from schemas.records import (
    Alert,
    CanonicalEvent,
    Location,
    Quantity,
)

NO_TIME = 2**62
SETTLE_KEY = "news"
MOVING_TYPES = ROUTE_TYPES | {"leader_meeting_or_visit"}
UNDATED_REACH_DAYS = 1100  # an undated report may announce an event this old (a replay meets them last)


@dataclass(frozen=True)
class NewsView:
    """What a `new` alert announced: enough to recognise the same event reported under another event id."""

    event_id: str
    type: str
    at: int  # the article time of the announcing revision (micros; NO_TIME when undated)
    time: tuple[int, int] | None  # its reports and the date its texts fix
    actors: frozenset[str]
    location: Location | None
    figures: tuple[tuple[str, Quantity], ...]


@dataclass(frozen=True)
class Pending:
    """A `new` alert before `SettleStep` knows whether another event id announced the same news."""

    alert: Alert
    view: NewsView


def news_view(event: CanonicalEvent) -> NewsView:
    last = event.mentions[-1].published
    reports = [report_interval(t) for t in (event.first_seen, event.last_seen) if t is not None]
    time = hull(reports[0], reports[-1]) if reports else None
    time = hull(time, date_interval(event.event_date))
    at = NO_TIME if last is None else int(last.timestamp() * 1_000_000)
    return NewsView(event.event_id, event.type, at, time, frozenset(a.code for a in event.actors), event.location,
                    tuple((quantity_family(k), event.quantities[k]) for k in sorted(event.quantities)))


def same_news(new: NewsView, known: NewsView, settings: MergeSettings) -> bool:
    """Whether `new` may announce the event `known` announced: the same type and a shared actor, and
    - both dated: times within the type's merge window and places not apart (transfers and visits excepted:
      their origin and destination are both reported as "the place");
    - `new` undated: nothing places it in time, so it cannot be shown to be news: any such `known` within reach.
    """
    if new.type != known.type or (new.actors and known.actors and not new.actors & known.actors):
        return False
    if new.time is None:
        return True
    if known.time is None:
        return False
    if new.type not in MOVING_TYPES and place_relation(new.location, known.location, settings) == "apart":
        return False
    distance = max(0, new.time[0] - known.time[1], known.time[0] - new.time[1])
    return distance <= settings.window(new.type)


@dataclass
class NewsIndex:
    announced: list[NewsView] = field(default_factory=list)
    clock: int | None = None


@dataclass(frozen=True)
class SettleStep:
    """One key: each `new` alert, in article-time order, stays `new` unless an event announced earlier (within
    `UNDATED_REACH_DAYS`, the last `max_views`) is the same news; then it is an `update` of a fresh report.

    Only views still eligible are kept (eligibility shrinks as the clock moves), so flushes change nothing."""

    settings: MergeSettings = field(default_factory=MergeSettings)
    max_views: int = 2_000
    namespace: str = "alerts"

    def order_key(self, pending: Pending):
        return pending.view.at, pending.alert.event_id, pending.alert.revision

    def run(self, key: str, state: NewsIndex | None, values: list[Pending]):
        index, out = state or NewsIndex(), []
        for pending in values:
            view = pending.view
            if view.at != NO_TIME:
                index.clock = view.at if index.clock is None else max(index.clock, view.at)
            twin = next((known for known in reversed(self._eligible(index)) if same_news(view, known, self.settings)),
                        None)
            if twin is None:
                index.announced.append(view)
                out.append(pending.alert)
            else:
                out.append(as_repeat(pending.alert, twin))
        index.announced = self._eligible(index)
        return index, out

    def _eligible(self, index: NewsIndex) -> list[NewsView]:
        reach = UNDATED_REACH_DAYS * DAY
        kept = [v for v in index.announced[-self.max_views:]
                if v.at == NO_TIME or index.clock is None or index.clock - v.at <= reach]
        return kept


def as_repeat(alert: Alert, twin: NewsView) -> Alert:
    """A `new` alert for news already announced (under `twin`'s event id), made an update of that news."""
    line = "UPDATE" + alert.summary.removeprefix("NEW") + f" (as announced for {twin.event_id})"
    return alert.model_copy(update={
        "kind": "update", "alert_id": stable_id("alert", alert.event_id, str(alert.revision), "update"),
        "summary": line if len(line) <= 280 else line[:279] + "…"})


