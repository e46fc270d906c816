"""Pure steps of article deduplication (no Beam): exact first-by-id, LSH bucket matching, cluster decision.

- `ExactFirstStep` (state per article id): the first record of an id in the fixed order is kept, later ones
  are exact duplicates. State: the kept record's article time, forgotten `horizon_days` of article time later.
- `BucketStep` (state per LSH band key): each new article is compared with the earlier members of its bucket
  (earlier in the fixed order, within `horizon_days` of article time) by estimated containment and Jaccard
  (containment ≥ 0.40 across sites, ≥ 0.75 within one site, whose template is shared by all its stories);
  one `BandReport` per article and band lists the verified matches. Members older than the horizon (in article
  time, relative to the newest member) are dropped, which bounds the bucket.
- `decide_cluster`: an article's reports from all its bands → `duplicate_of` = the earliest verified match
  (by the fixed order), `cluster_id` = that id, or the article's own id when it matched nothing.
- `CollectStep`: in a stream an article is decided when all its band reports are in (their number travels
  with it); on bounded input (`whole_input`) only reports with matches are sent and `finish` decides each
  article on those.

Clusters are stars around their first article. A copy of a copy that no longer matches the original points
at the copy it matches; consumers that count independent sources join such chains through `cluster_id`
(the merge stage does).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from pipeline.sketch import Sketch
from schemas.records import EnrichedArticle

NO_TIME = 2**62  # sorts articles without a time after every dated one
Order = tuple[int, str]  # (article time in micros or NO_TIME, article id)


@dataclass(frozen=True)
class DedupSettings:
    min_containment: float = 0.40
    min_jaccard: float = 0.15
    same_site_min_containment: float = 0.75  # a site repeats its own template (author box, footer, menus)
    short_sketch: int = 12  # shingles; shorter texts (e.g. a title only) need a near-exact match
    short_min_jaccard: float = 0.80
    horizon_days: int = 30
    id_shards: int = 64  # keys of the per-article-id folds
    bucket_shards: int = 16  # keys per LSH band: 12 bands × 16 = 192 bucket keys

    @property
    def horizon_micros(self) -> int:
        return self.horizon_days * 86_400 * 1_000_000


def article_time(enriched: EnrichedArticle) -> datetime | None:
    article = enriched.article
    return article.published or article.fetched_at


def order_of(enriched: EnrichedArticle) -> Order:
    when = article_time(enriched)
    return (NO_TIME if when is None else int(when.timestamp() * 1_000_000), enriched.article.id)


def content_key(enriched: EnrichedArticle) -> str:
    """A tie-breaker between two records with one id: their content, so the choice never depends on arrival."""
    return hashlib.blake2b(enriched.model_dump_json().encode("utf-8"), digest_size=16).hexdigest()


# ---------------------------------------------------------------- exact duplicates

@dataclass(frozen=True)
class ExactFirstStep:
    """Per article id: emit the first record in (article time, content) order; later ones are dropped."""

    settings: DedupSettings = DedupSettings()
    namespace: str = "dedup"

    def order_key(self, enriched: EnrichedArticle):
        return (order_of(enriched)[0], content_key(enriched))

    def run(self, key: str, state: int | None, values: list[EnrichedArticle]):
        """state: the kept record's article time (micros or NO_TIME); values: new records of this id in order."""
        kept, out = state, []
        for enriched in values:
            when = order_of(enriched)[0]
            if kept is not None and not self._expired(kept, when):
                out.append(("exact_duplicate", enriched))
                continue
            kept = when
            out.append(("first", enriched))
        return kept, out

    def _expired(self, kept: int, when: int) -> bool:
        return NO_TIME not in (kept, when) and when - kept > self.settings.horizon_micros


# ---------------------------------------------------------------- LSH buckets

@dataclass(frozen=True)
class Candidate:
    """What a bucket keeps of one article (≈ id + site + 150 bytes)."""

    article_id: str
    order: Order
    sketch: Sketch
    site: str = ""


def site_of(enriched: EnrichedArticle) -> str:
    """The publishing site: the URL's host without "www.", else the outlet name."""
    article = enriched.article
    host = urlsplit(article.url).hostname if article.url else None
    return (host or "").removeprefix("www.") or (article.outlet or "").strip().lower()


@dataclass(frozen=True)
class Match:
    article_id: str
    order: Order
    containment: float
    jaccard: float


@dataclass(frozen=True)
class BandReport:
    """One band's verdict on one article: the earlier members of the bucket it near-duplicates."""

    article_id: str
    band: str
    matches: tuple[Match, ...] = ()


def is_near_duplicate(a: Sketch, b: Sketch, settings: DedupSettings, same_site: bool = False
                      ) -> tuple[bool, float, float]:
    """(copy?, estimated containment, estimated Jaccard). Two articles of one site must share far more than
    the site's own template to be copies (a republished story shares nearly all of it)."""
    jaccard = a.jaccard(b)
    if min(a.size, b.size) < settings.short_sketch:
        return jaccard >= settings.short_min_jaccard, jaccard, jaccard
    containment = a.containment(b)
    needed = settings.same_site_min_containment if same_site else settings.min_containment
    return containment >= needed and jaccard >= settings.min_jaccard, containment, jaccard


def within_horizon(a: Order, b: Order, settings: DedupSettings) -> bool:
    return NO_TIME in (a[0], b[0]) or abs(a[0] - b[0]) <= settings.horizon_micros


@dataclass(frozen=True)
class BucketStep:
    """Per band key: match each new candidate against the bucket's earlier members, then add it."""

    settings: DedupSettings = DedupSettings()
    namespace: str = "dedup"

    def order_key(self, candidate: Candidate):
        return candidate.order

    def run(self, key: str, state: list[Candidate] | None, values: list[Candidate]):
        members = list(state or [])
        reports = []
        for new in values:
            matches = []
            for old in members:
                if old.order >= new.order or old.article_id == new.article_id:
                    continue  # only articles earlier in the fixed order can be the original
                if not within_horizon(old.order, new.order, self.settings):
                    continue
                same_site = bool(new.site) and new.site == old.site
                same, containment, jaccard = is_near_duplicate(new.sketch, old.sketch, self.settings, same_site)
                if same:
                    matches.append(Match(old.article_id, old.order, round(containment, 3), round(jaccard, 3)))
            reports.append(BandReport(new.article_id, key, tuple(matches)))
            members.append(new)
        return prune(members, self.settings) or None, reports


def prune(members: list[Candidate], settings: DedupSettings) -> list[Candidate]:
    """Drop members more than the horizon (article time) older than the bucket's newest dated member."""
    dated = [m.order[0] for m in members if m.order[0] != NO_TIME]
    if not dated:
        return members
    newest = max(dated)
    return [m for m in members if m.order[0] == NO_TIME or newest - m.order[0] <= settings.horizon_micros]


# ---------------------------------------------------------------- cluster decision

@dataclass(frozen=True)
class ArticlePart:
    """The collector's copy of the article, with the number of band reports to wait for."""

    article: EnrichedArticle
    expected: int


@dataclass
class Pending:
    """What the collector of one article id has received so far."""

    article: ArticlePart | None = None
    reports: list[BandReport] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.article is not None and len(self.reports) >= self.article.expected


@dataclass(frozen=True)
class CollectStep:
    """Per article id: gather the article and its band reports; when all are in, mark it (`decide_cluster`).

    Completeness is a count carried by the article, never a time, and the decision is a minimum over the
    reports, so neither arrival order nor timing can change the verdict.
    """

    namespace: str = "dedup"
    # The fold sees each key's whole input before `finish` (a bounded replay, grouped): only reports that carry
    # matches are sent, and each article is decided in `finish` with those (the empty ones change nothing).
    whole_input: bool = False

    def order_key(self, part: ArticlePart | BandReport):
        return ("", "") if isinstance(part, ArticlePart) else ("r", part.band)

    def run(self, key: str, state: Pending | None, values: list[ArticlePart | BandReport]):
        pending = state or Pending()
        for part in values:
            if isinstance(part, ArticlePart):
                pending.article = part
            else:
                pending.reports.append(part)
        if self.whole_input or not pending.complete:
            return pending, []
        return None, [decide_cluster(pending.article.article, pending.reports)]

    def finish(self, key: str, state: Pending | None) -> list[EnrichedArticle]:
        """A bounded input has ended (the grouped fold calls this; a stream has no end): the article is decided
        on the reports received. Reports without their article have nothing to emit."""
        if state is None or state.article is None:
            return []
        return [decide_cluster(state.article.article, state.reports)]


def decide_cluster(article: EnrichedArticle, reports: list[BandReport]) -> EnrichedArticle:
    """Mark `article` with the earliest verified match of any band (or as the first of its own cluster)."""
    best: Match | None = None
    for report in reports:
        for match in report.matches:
            if best is None or match.order < best.order:
                best = match
    if best is None:
        return article.model_copy(update={"duplicate_of": None, "cluster_id": article.article.id})
    return article.model_copy(update={"duplicate_of": best.article_id, "cluster_id": best.article_id})


def deduplicate_batch(articles: list[EnrichedArticle], settings: DedupSettings | None = None) -> list[EnrichedArticle]:
    """The marked articles of a bounded set (the folds `DeduplicateArticles` runs, without Beam)."""
    from pipeline.sketch import sketch_text

    settings = settings or DedupSettings()
    exact, by_id = ExactFirstStep(settings), {}
    for enriched in articles:
        by_id.setdefault(enriched.article.id, []).append(enriched)
    firsts = [e for key in sorted(by_id)
              for verdict, e in exact.run(key, None, sorted(by_id[key], key=exact.order_key))[1] if verdict == "first"]
    buckets: dict[str, list[Candidate]] = {}
    expected = {}
    for enriched in firsts:
        sketch, keys = sketch_text(enriched.article.title, enriched.article.text)
        expected[enriched.article.id] = (enriched, len(keys))
        for key in keys:
            buckets.setdefault(key, []).append(Candidate(enriched.article.id, order_of(enriched), sketch,
                                                         site_of(enriched)))
    reports: dict[str, list[BandReport]] = {}
    bucket = BucketStep(settings)
    for key in sorted(buckets):
        for report in bucket.run(key, None, sorted(buckets[key], key=bucket.order_key))[1]:
            reports.setdefault(report.article_id, []).append(report)
    return [decide_cluster(enriched, reports.get(article_id, [])) for article_id, (enriched, _) in expected.items()]
