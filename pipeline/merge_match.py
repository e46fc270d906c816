"""Pure fit of an event mention to a canonical event (no Beam): vetoes and evidence, used by story assignment.

Compatibility (a failed test vetoes the pair):
- time: a canonical event is one story's worth of reports: the mention's article must be published within the
  type's window of the event's first report (no chaining: a story that goes on for months opens a new event
  per window), and a date the text fixes must agree, within the window, with the event's dates or reports.
  So a passing reference to an older event (a 2024 article recalling "a visit in 2023") stays out of the old
  story. One exception, a dated reference: a text that fixes the day of an event (one of the days its texts
  fixed, or of the few before its first report; the same day or the next) is about that event whenever it
  appears, so its publication time is no evidence against it ("The visit took place on 11–13 July", two
  months later). A publication date known only to the month ('2024-03' → the 1st at 00:00) counts as the
  whole month, and a day its text fixes as the span from that day to the month's end (a weekday was resolved
  against the 1st);
- actors: two non-empty actor sets must share a country;
- place: two places must be the same or nested (shared name word, same country when one is a whole
  country) or near each other (≤ `near_km`); places in different countries are incompatible, except for
  transfers, whose origin and destination are both reported as "the place".
Evidence (summed by `fit`): time closeness, same or nested place (a shared whole country, "Russia" and "Russia",
is weak and not specific: half the stories share it), actor overlap, the same figure, a shared
syndication cluster (a reprint of an article already in the event), the same source.
"""

from __future__ import annotations

import math
import re
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from schemas.records import EventMention, Location, Quantity

DAY = 86_400 * 1_000_000
Interval = tuple[int, int]  # micros, inclusive
_PLACE_NOISE = {"region", "oblast", "province", "krai", "city", "the", "of", "near", "area", "areas", "port",
                "republic", "special", "economic", "zone", "headquarters", "square"}
_PRECISION = {"country": 0, "region": 1, "city": 2, "exact": 3}
ROUTE_TYPES = {"weapons_transfer", "technology_transfer"}  # origin and destination are both "the place"
# types whose figures are running totals: containers shipped, troops sent, soldiers killed, prisoners taken
RUNNING_TOTAL_TYPES = frozenset(ROUTE_TYPES | {"troop_deployment", "casualties", "prisoners_captured"})
WINDOW_DAYS = {
    "leader_meeting_or_visit": 4, "treaty_or_agreement": 7, "official_confirmation": 5, "official_denial": 5,
    "sanctions_or_condemnation": 5, "military_exercise_or_training": 7, "other": 5, "economic_cooperation": 7,
    "casualties": 10, "prisoners_captured": 10, "troop_deployment": 10, "weapons_transfer": 10,
    "technology_transfer": 10,
}


@dataclass(frozen=True)
class MergeSettings:
    window_days: dict[str, int] = field(default_factory=lambda: dict(WINDOW_DAYS))
    lookback_days: int = 3  # an undated event happened at most this long before the article reporting it
    near_km: float = 250.0
    min_score: float = 2.0  # an article joins a story from this fit when both have a time ...
    min_specific: float = 1.0  # ... of which this much must be specific (not just time and actors),
    min_score_undated: float = 2.5  # ... from this one when either has none
    lede_slack: int = 150  # characters: mentions starting this close to an article's first one are its lede
    background_extra: float = 2.0  # a link between a lede and a background mention needs this much more fit
    horizon_days: int = 21  # a story takes no article this long (article time) after its first report
    reach_days: int = 90  # a dated reference (lede to lede) joins an event up to this long after its latest report
    running_total_types: frozenset[str] = RUNNING_TOTAL_TYPES  # a larger count is the same event, counted on ...
    total_growth: float = 1.2  # ... from this many times the event's largest figure of that count (to 10 times)
    dated_span_days: int = 7  # ... whose days are known to within this span
    text_window_days: int = 7  # evidence-term similarity links articles at most this far apart ...
    text_min: float = 0.25  # ... from this similarity on (idf-weighted share of the article's terms)
    text_weight: float = 2.0  # and adds this much per unit of similarity to a story's link
    text_specific: float = 10.0  # per unit of similarity, shared words count as specific fact of a link ...
    text_specific_days: int = 2  # ... between reports at most this far apart
    text_min_undated: float = 0.2  # an undated article joins a story from this resemblance (cosine) ...
    undated_corroboration: float = 0.05  # ... plus this per unit of specific fact shared with one of its events
    undated_margin: float = 0.05  # ... if that beats the runner-up story by this much

    def window(self, event_type: str) -> int:
        return self.window_days.get(event_type, 7) * DAY


# ---------------------------------------------------------------- time

def _micros(value: datetime) -> int:
    return int(value.timestamp() * 1_000_000)


def date_interval(text: str | None) -> Interval | None:
    """'2024' → the year, '2024-10' → the month, '2024-10-18' → the day (UTC micros, inclusive)."""
    if not text:
        return None
    parts = text.split("-")
    try:
        year = int(parts[0])
        if len(parts) == 1:
            start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
        elif len(parts) == 2:
            month = int(parts[1])
            start = datetime(year, month, 1, tzinfo=UTC)
            end = start + timedelta(days=monthrange(year, month)[1])
        else:
            start = datetime(year, int(parts[1]), int(parts[2][:2]), tzinfo=UTC)
            end = start + timedelta(days=1)
    except ValueError:
        return None
    return _micros(start), _micros(end) - 1


def report_interval(published: datetime | None) -> Interval | None:
    """When an article appeared: the instant, or the whole month when only the month is known (1st, 00:00)."""
    if published is None:
        return None
    if published.day == 1 and (published.hour, published.minute, published.second, published.microsecond) == (0,) * 4:
        return date_interval(f"{published.year:04d}-{published.month:02d}")
    return _micros(published), _micros(published)


def fixed_interval(mention: EventMention) -> Interval | None:
    """The date the text fixes. A day named relative to the publication ("on Thursday") was resolved against a
    publication date known only to the month as if it were the 1st, so there the day is read as the whole
    span from it to the end of that month."""
    fixed, report = date_interval(mention.event.event_date), report_interval(mention.published)
    if fixed is not None and report is not None and not precise(report) and fixed[1] - fixed[0] < DAY:
        return hull(fixed, report)
    return fixed


def precise(interval: Interval | None) -> bool:
    return interval is not None and interval[0] == interval[1]


def hull(a: Interval | None, b: Interval | None) -> Interval | None:
    if a is None or b is None:
        return a or b
    return min(a[0], b[0]), max(a[1], b[1])


def gap(a: Interval, b: Interval) -> int:
    return max(0, a[0] - b[1], b[0] - a[1])


# ---------------------------------------------------------------- place, actors, figures

def place_words(location: Location) -> set[str]:
    words = set(re.findall(r"\w+", location.name.lower()))
    return {w for w in words if w not in _PLACE_NOISE and not w.isdigit()} or words


def distance_km(a: Location, b: Location) -> float | None:
    if None in (a.lat, a.lon, b.lat, b.lon):
        return None
    la1, lo1, la2, lo2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 6371.0 * 2 * math.asin(min(1.0, math.sqrt(h)))


def place_relation(a: Location | None, b: Location | None, settings: MergeSettings) -> str:
    """'same', 'nested', 'near', 'unknown' (no way to tell) or 'apart' (incompatible)."""
    if a is None or b is None:
        return "unknown"
    if place_words(a) & place_words(b):
        return "same"
    km = distance_km(a, b) if "country" not in (a.precision, b.precision) else None
    if km is not None and km <= settings.near_km:
        return "near"  # also across a border (the Tumen bridge, Rason and Khasan)
    if a.country and b.country:
        if a.country != b.country:
            return "apart"
        if "country" in (a.precision, b.precision):
            return "nested"
    return "apart" if km is not None else "unknown"


def precision_rank(location: Location) -> int:
    return _PRECISION.get(location.precision, 0)


def midpoint(quantity: Quantity) -> float | None:
    values = [v for v in (quantity.low, quantity.high) if v is not None]
    return sum(values) / len(values) if values else None


def quantity_family(name: str) -> str:
    """'howitzers_M1989' → 'howitzers': figures of one family are compared with each other."""
    return name.split("_")[0].lower()


def figure_ratio(a: Quantity, b: Quantity) -> float | None:
    x, y = midpoint(a), midpoint(b)
    if not x or not y or x <= 0 or y <= 0:
        return None
    return max(x, y) / min(x, y)


def source_key(source: str | None) -> str | None:
    return re.sub(r"\W+", " ", source.lower()).strip() if source else None


# ---------------------------------------------------------------- fit

@dataclass
class EventView:
    """What matching needs of a canonical event (kept by story assignment, updated as mentions join)."""

    event_id: str
    type: str
    anchor: Interval | None = None  # its first report (the first precise one once there is one)
    latest: int | None = None  # its latest report (micros; the start of a month known only to the month)
    dates: Interval | None = None  # hull of the dates the texts fix
    actors: set[str] = field(default_factory=set)
    locations: list[Location] = field(default_factory=list)
    figures: dict[str, list[Quantity]] = field(default_factory=dict)
    articles: set[str] = field(default_factory=set)
    clusters: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)
    lede: bool = False  # one of its mentions is what its article is about

    def take_in(self, mention: EventMention, lede: bool, settings: MergeSettings) -> None:
        event = mention.event
        report = report_interval(mention.published)
        if report is not None and (self.anchor is None or (precise(report) and not precise(self.anchor))):
            self.anchor = report
        if report is not None:
            self.latest = report[0] if self.latest is None else max(self.latest, report[0])
        self.dates = hull(self.dates, fixed_interval(mention))
        self.actors |= {a.code for a in event.actors}
        if event.location is not None and event.location not in self.locations:
            self.locations.append(event.location)
        for name, quantity in event.quantities.items():
            self.figures.setdefault(quantity_family(name), []).append(quantity)
        self.articles.add(mention.article_id)
        self.clusters |= {c for c in (mention.cluster_id, mention.article_id, mention.duplicate_of) if c}
        if event.source_of_claim:
            self.sources.add(source_key(event.source_of_claim))
        self.lede |= lede


def time_gaps(mention: EventMention, view: EventView, settings: MergeSettings,
              dated_by_lede: bool = False, running: bool = False) -> list[int] | None:
    """Distances (micros) from the mention to the event on every time both have; None when one is too far.

    A reprint (another article of a syndication cluster already in the event) repeats its original whenever
    it appears: its own publication time is no evidence against it. A mention with no date of its own is
    taken to report something of the last `lookback_days`, unless `dated_by_lede`: its article's lede put a
    dated mention in this event ("The summit was held on 2 April. The leaders also signed…"); then the lede's
    date places it, and its own publication time counts at most as far as the window (no veto).
    A dated reference (`dated_reference`) is compared on the day its text fixes alone; a `running` total (one
    that `running_total` lets past the window) on nothing: its time is neither for nor against it.
    """
    window, lookback = settings.window(mention.event.type), settings.lookback_days * DAY
    if mention.article_id not in view.articles and same_cluster(mention, view):
        return []
    report, fixed = report_interval(mention.published), fixed_interval(mention)
    if dated_reference(mention, view, settings):
        return [gap(fixed, event_days(view, settings))]
    if running:
        return []
    gaps = []
    if report is not None and view.anchor is not None:
        far = gap(report, view.anchor)
        gaps.append(min(far, window) if dated_by_lede else far)
    if fixed is not None and view.dates is not None:
        gaps.append(gap(fixed, view.dates))
    elif fixed is not None and view.anchor is not None:
        gaps.append(gap(fixed, (view.anchor[0] - lookback, view.anchor[1])))
    elif report is not None and view.dates is not None and not dated_by_lede:
        gaps.append(gap(view.dates, (report[0] - lookback, report[1])))
    return None if any(g > window for g in gaps) else gaps


def event_days(view: EventView, settings: MergeSettings) -> Interval | None:
    """The days the event happened on as far as its reports tell: those its texts fixed, else the
    `lookback_days` before its first precise report (what the windows assume); None when neither is known or
    they span `dated_span_days` or more."""
    days = view.dates
    if days is None and precise(view.anchor):
        days = view.anchor[0] - settings.lookback_days * DAY, view.anchor[1]
    return days if days is not None and days[1] - days[0] < settings.dated_span_days * DAY else None


def fixed_day(mention: EventMention) -> Interval | None:
    """The day the mention's text fixes, if it fixes one (not a month: "in July" fits a season of reports)."""
    fixed = fixed_interval(mention)
    return fixed if fixed is not None and fixed[1] - fixed[0] < DAY else None


def fixes_a_day(mention: EventMention) -> bool:
    return fixed_day(mention) is not None


def dated_reference(mention: EventMention, view: EventView, settings: MergeSettings) -> bool:
    """The mention's text fixes a day (`fixed_day`) that is one of the event's days (`event_days`) or next
    to them."""
    day, days = fixed_day(mention), event_days(view, settings)
    return day is not None and days is not None and gap(day, days) <= DAY


def running_total(mention: EventMention, view: EventView, settings: MergeSettings) -> bool:
    """The mention reports a larger figure of a count the event has (the same family, from `total_growth` to
    10 times the event's largest), for a type whose counts accumulate (`running_total_types`: containers
    shipped, troops sent, casualties): a later report of the same running event ("nearly 2,000 containers" six
    weeks after "as many as 1,000"; the issue's "NIS 1,500 → 10,000–12,000"). A smaller or equal figure is no
    evidence: it may be the old one recalled."""
    if mention.event.type not in settings.running_total_types or mention.event.type != view.type:
        return False
    for name, quantity in mention.event.quantities.items():
        known = [x for other in view.figures.get(quantity_family(name), []) if not other.vague
                 and (x := midpoint(other))]
        value = None if quantity.vague else midpoint(quantity)
        if value and known and settings.total_growth * max(known) <= value <= 10 * max(known):
            return True
    return False


def referable(view: EventView, clock: int | None, settings: MergeSettings) -> bool:
    """Whether a reference from another story may join the event at article time `clock`: a lede event last
    reported at most `reach_days` before, with known days (for a `dated_reference`) or figures of a count
    that accumulates (for a `running_total`)."""
    return view.lede and view.latest is not None and clock is not None \
        and clock - view.latest <= settings.reach_days * DAY \
        and (event_days(view, settings) is not None
             or (view.type in settings.running_total_types and any(
                 not q.vague for figures in view.figures.values() for q in figures)))


def past_window(mention: EventMention, view: EventView, settings: MergeSettings) -> bool:
    """The mention's article appeared past the type's window of the event's first report, or at no known time:
    where only a dated reference can tie it to the event."""
    report = report_interval(mention.published)
    return report is None or view.anchor is None or gap(report, view.anchor) > settings.window(mention.event.type)


def same_cluster(mention: EventMention, view: EventView) -> bool:
    """The mention's article is in the event already, or is a copy of (or copied by) an article in it."""
    return bool({c for c in (mention.cluster_id, mention.article_id, mention.duplicate_of) if c} & view.clusters)


@dataclass(frozen=True)
class Fit:
    """Evidence that a mention reports an event: in all, from a time, and from specific facts."""

    total: float
    dated: bool  # a time backs it
    specific: float  # the same place, figure, source, syndication cluster or exact date


def _time_score(gaps: list[int], exact: bool, window: int) -> float:
    if not gaps:
        return 0.0
    if max(gaps) == 0:
        return 1.5 if exact else 0.5  # a shared month says little
    return 1.0 - 0.5 * max(gaps) / window


def fit(mention: EventMention, view: EventView, settings: MergeSettings, in_story: bool = False,
        dated_by_lede: bool = False, running: bool = False) -> Fit | None:
    """How much evidence there is that `mention` reports the event of `view`; None when it cannot.

    `in_story`: the mention's article is in the event's story already; then places are apart only when both
    are more precise than a country (a story's "sent to Russia" and "fighting in Ukraine" are one deployment).
    """
    event = mention.event
    gaps = time_gaps(mention, view, settings, dated_by_lede, running)
    if gaps is None:
        return None
    report, fixed = report_interval(mention.published), fixed_interval(mention)
    exact = precise(report) and precise(view.anchor)
    same_day = fixed is not None and view.dates is not None and fixed == view.dates and fixed[1] - fixed[0] < DAY
    total, specific = _time_score(gaps, exact, settings.window(event.type)), 1.0 if same_day else 0.0
    codes = {a.code for a in event.actors}
    if codes and view.actors:
        shared = codes & view.actors
        if not shared:
            return None
        total += len(shared) / len(codes | view.actors)
    if event.location is not None and view.locations:
        relations = {place_relation(event.location, known, settings) for known in view.locations}
        if relations == {"apart"} and event.type not in ROUTE_TYPES \
                and not (in_story and _any_country(event.location, view.locations)):
            return None
        if "same" in relations and not _whole_country(event.location, view.locations):
            total, specific = total + 2.0, specific + 2.0
        elif relations & {"same", "nested", "near"}:
            total, specific = total + 1.0, specific + (0.0 if "same" in relations else 1.0)
    figures = _figure_score(event.quantities, view.figures)
    total, specific = total + figures, specific + max(0.0, figures)
    if same_cluster(mention, view):
        total, specific = total + 4.0, specific + 4.0
    if source_key(event.source_of_claim) in view.sources:
        total, specific = total + 0.5, specific + 0.5
    return Fit(total, bool(gaps), specific)


def _any_country(location: Location, known: list[Location]) -> bool:
    return location.precision == "country" or any(k.precision == "country" for k in known)


def _whole_country(location: Location, known: list[Location]) -> bool:
    """The shared place is a whole country ("Russia" and "Russia"): true of half the stories, so no specific fact."""
    same = [k for k in known if place_words(location) & place_words(k)]
    return location.precision == "country" and all(k.precision == "country" for k in same)


def _figure_score(quantities: dict[str, Quantity], known: dict[str, list[Quantity]]) -> float:
    """+1.5 for the same figure (±10 %), +0.5 for one within 3×, -1 when every shared figure is 10× off."""
    ratios = [ratio for name, quantity in quantities.items() for other in known.get(quantity_family(name), [])
              if (ratio := figure_ratio(quantity, other)) is not None]
    if not ratios:
        return 0.0
    closest = min(ratios)
    return 1.5 if closest <= 1.1 else 0.5 if closest <= 3 else -1.0 if closest > 10 else 0.0
