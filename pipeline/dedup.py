"""Article deduplication: EnrichedArticle → EnrichedArticle; exact duplicates (same id) dropped, near-duplicates
marked with `duplicate_of` (the first article of the cluster) and `cluster_id`; every kept article gets a
`cluster_id` (its own id when it is the first of its cluster). Nothing goes to dead letters: an article
without text has no sketch and is the first of its own cluster.

Layout. Every keyed step is an `OrderedFold` (decisions in the fixed order (element timestamp, article
time, article id), not arrival order or bundle boundaries) over a `ShardedStep` (many small sub-keys folded
inside a fixed set of hash shards, pruned by article time; see `pipeline.merge_order`):

1. `FirstById` — sub-key: article id (64 shards); the first record of an id is kept, the rest counted
   (`dedup.exact_duplicates`) and dropped.
2. `Sketch` — 5-word shingles → 128-hash MinHash → 12 single-row LSH band keys (`pipeline.sketch`).
3. `MatchInBands` — sub-key: LSH band key ("07:3fa2…"), 16 shards per band (192 keys); each article is
   verified against the earlier members of each of its buckets (estimated containment ≥ 0.40 and Jaccard
   ≥ 0.15; ≥ 0.75 between two articles of one site, whose template every story shares) and one
   `BandReport` per article and band goes on. This is what scales out: a bucket holds the few articles that
   share one band value, and buckets spread over shards and workers.
4. `DecideCluster` — sub-key: article id (64 shards); waits for the article and all its band reports (their
   number travels with the article, so completeness never depends on time), then marks it with the earliest
   verified match. A minimum over the reports: the order they arrive in does not matter. On bounded input
   the fold sees all of an article's reports at once, so only reports with matches are sent and each article
   is decided at the end of its group (the many empty reports cost plumbing, not information); a report lost
   on the way would show as `dedup.band_keys` > `dedup.band_reports` (the replay's summary and log). Every
   article that enters comes out exactly once.

On bounded input (a replay) the folds group each key's values (`OrderedFold`), with no user state or timers:
Prism 2.62 loses keyed state when it splits a slow stateful bundle (apache/beam#35771), which made replays
drop articles here, a different number each run.

State per article, kept 30 days of article time: 12 bucket entries of ≈ 370 bytes with its id (≈ 4.4 kB for
the gold set's 43-byte ids, `tests/dedup/test_dedup_pure.py::test_state_bytes_per_article`) and ≈ 70 bytes
in `FirstById`.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from pipeline import ledger
from pipeline.dedup_match import (
    NO_TIME,
    ArticlePart,
    BucketStep,
    Candidate,
    CollectStep,
    DedupSettings,
    ExactFirstStep,
    order_of,
    site_of,
)
from pipeline.merge_order import DEFAULT_TICK_MICROS, OrderedFold, ShardedStep, shard_of
from pipeline.sketch import sketch_text
from schemas.records import EnrichedArticle

BAND_KEYS = Metrics.counter("dedup", "band_keys")
BAND_REPORTS = Metrics.counter("dedup", "band_reports")


def sketch_and_route(enriched: EnrichedArticle, bucket_shards: int, id_shards: int):
    """EnrichedArticle → (id shard, ArticlePart) on "articles" and (band shard, (band key, Candidate)) per band."""
    article = enriched.article
    sketch, keys = sketch_text(article.title, article.text)
    BAND_KEYS.inc(len(keys))
    yield beam.pvalue.TaggedOutput("articles", (shard_of(article.id, id_shards, "a"), ArticlePart(enriched, len(keys))))
    candidate = Candidate(article.id, order_of(enriched), sketch, site_of(enriched))
    for key in keys:
        yield shard_of(key, bucket_shards, key[:3]), (key, candidate)


def _by_article_id(enriched: EnrichedArticle):
    return enriched.article.id, enriched


def _by_band(item):
    return item


def _by_part(part):
    return (part.article.article.id if isinstance(part, ArticlePart) else part.article_id), part


def _kept_time(kept: int):
    return None if kept == NO_TIME else kept


def _bucket_time(members):
    dated = [m.order[0] for m in members if m.order[0] != NO_TIME]
    return max(dated, default=None)


def _no_time(_state):
    return None


class KeepFirstFn(beam.DoFn):
    """("first" | "exact_duplicate", article) → the article when it is the first of its id.

    A dropped duplicate has no output to wait for: its raw-topic position is reported finished at once
    (`pipeline.ledger`), or the streaming job's commit frontier would stall behind it.
    """

    def __init__(self):
        self.dropped = Metrics.counter("dedup", "exact_duplicates")

    def process(self, tagged):
        verdict, enriched = tagged
        if verdict == "first":
            yield enriched
        else:
            self.dropped.inc()
            ledger.finished_position(enriched.article.source_position)


class OnlyMatchesFn(beam.DoFn):
    """BandReport → itself when it carries a match; every report is counted (`dedup.band_reports`): on bounded
    input it must equal `dedup.band_keys`, the bands the articles were routed to (`band_reports_missing`)."""

    def process(self, report):
        BAND_REPORTS.inc()
        if report.matches:
            yield report


class LaterTickFn(beam.DoFn):
    """An element → itself, one tick later (its timestamp + `tick_micros`)."""

    def __init__(self, tick_micros: int):
        self.tick_micros = tick_micros

    def process(self, element, ts=beam.DoFn.TimestampParam):
        yield TimestampedValue(element, Timestamp(micros=ts.micros + self.tick_micros))


def band_reports_missing(counters: dict[str, int]) -> int:
    """Band reports a bounded run's buckets should have produced but did not (0 unless one was lost)."""
    return counters.get("dedup.band_keys", 0) - counters.get("dedup.band_reports", 0)


class CountOutcomesFn(beam.DoFn):
    """Decided article → itself; counts near-duplicates."""

    def __init__(self):
        self.near = Metrics.counter("dedup", "near_duplicates")

    def process(self, decided: EnrichedArticle):
        if decided.duplicate_of is not None:
            self.near.inc()
        yield decided


class DeduplicateArticles(beam.PTransform):
    """EnrichedArticle → EnrichedArticle (exact duplicates dropped, near-duplicates marked)."""

    def __init__(self, settings: DedupSettings | None = None, tick_micros: int = DEFAULT_TICK_MICROS):
        super().__init__()
        self.settings = settings or DedupSettings()
        self.tick_micros = tick_micros

    def expand(self, enriched):
        st, tick = self.settings, self.tick_micros
        horizon = st.horizon_micros
        exact = ShardedStep(ExactFirstStep(st), _by_article_id, _kept_time, horizon)
        buckets = ShardedStep(BucketStep(st), _by_band, _bucket_time, horizon)
        # A bounded input is folded grouped: DecideCluster then sees all of an article's reports at once and
        # needs only those with matches: 12 report elements per article fewer, bar the few that matched.
        whole = enriched.is_bounded
        collect = ShardedStep(CollectStep(whole_input=whole), _by_part, _no_time, horizon)
        firsts = (
            enriched
            | "KeyById" >> beam.Map(lambda e: (shard_of(e.article.id, st.id_shards, "e"), e))
            .with_output_types(tuple[str, EnrichedArticle])
            | "FirstById" >> OrderedFold(exact, tick)
            | "DropExact" >> beam.ParDo(KeepFirstFn())
        )
        routed = firsts | "Sketch" >> beam.FlatMap(sketch_and_route, st.bucket_shards, st.id_shards).with_outputs(
            "articles", main="bands")
        reports = (
            routed.bands
            | "TypeBands" >> beam.Map(lambda kv: kv).with_output_types(tuple[str, tuple[str, Candidate]])
            | "MatchInBands" >> OrderedFold(buckets, tick)
        )
        if whole:
            reports = reports | "OnlyMatches" >> beam.ParDo(OnlyMatchesFn())
        reports = (
            reports
            | "KeyReports" >> beam.Map(lambda r: (shard_of(r.article_id, st.id_shards, "a"), r))
            .with_output_types(tuple[str, object])
        )
        articles = routed.articles | "TypeArticles" >> beam.Map(lambda kv: kv).with_output_types(tuple[str, object])
        if whole:  # into the tick of its reports (MatchInBands emits one tick later), where the stream decides
            articles = articles | "WithReports" >> beam.ParDo(LaterTickFn(tick)).with_output_types(tuple[str, object])
        return (
            (articles, reports)
            | "Collect" >> beam.Flatten()
            | "DecideCluster" >> OrderedFold(collect, tick)
            | "CountNear" >> beam.ParDo(CountOutcomesFn()).with_output_types(EnrichedArticle)
        )
