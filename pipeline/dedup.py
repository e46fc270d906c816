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

On a stream, the "single" layout (`process.layout`, the default on Prism) runs the three folds' steps on the
same shards inside one fold of one key (`LiveDedupStep`): the same verdicts, without the hops between stages.

On bounded input (a replay) the folds group each key's values (`OrderedFold`), with no user state or timers:
Prism 2.62 loses keyed state when it splits a slow stateful bundle (apache/beam#35771), which made replays
drop articles here, a different number each run.

State per article, kept 30 days of article time: 12 bucket entries of ≈ 370 bytes with its id (≈ 4.4 kB for
the gold set's 43-byte ids, `tests/dedup/test_dedup_pure.py::test_state_bytes_per_article`) and ≈ 70 bytes
in `FirstById`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from pipeline import ledger
from pipeline.dedup_match import (
    NO_TIME,
    ArticlePart,
    BandReport,
    BucketStep,
    Candidate,
    CollectStep,
    DedupSettings,
    ExactFirstStep,
    decide_cluster,
    order_of,
    site_of,
)
from pipeline.merge_order import DEFAULT_TICK_MICROS, OrderedFold
from pipeline.shards import ShardedStep, ShardSet, group_by_shard, shard_of
from pipeline.sketch import sketch_text
from schemas.records import EnrichedArticle

LAYOUTS = ("sharded", "single")  # of the folds on a stream (a bounded input is always folded grouped, sharded)
BAND_KEYS = Metrics.counter("dedup", "band_keys")
BAND_REPORTS = Metrics.counter("dedup", "band_reports")


def band_entries(enriched: EnrichedArticle, bucket_shards: int) -> list[tuple[str, tuple[str, Candidate]]]:
    """The article's sketch as (band shard, (band key, Candidate)), one per LSH band it has (counted)."""
    article = enriched.article
    sketch, keys = sketch_text(article.title, article.text)
    BAND_KEYS.inc(len(keys))
    candidate = Candidate(article.id, order_of(enriched), sketch, site_of(enriched))
    return [(shard_of(key, bucket_shards, key[:3]), (key, candidate)) for key in keys]


def sketch_and_route(enriched: EnrichedArticle, bucket_shards: int, id_shards: int):
    """EnrichedArticle → (id shard, ArticlePart) on "articles" and (band shard, (band key, Candidate)) per band."""
    entries = band_entries(enriched, bucket_shards)
    yield beam.pvalue.TaggedOutput("articles", (shard_of(enriched.article.id, id_shards, "a"),
                                                ArticlePart(enriched, len(entries))))
    yield from entries


def _article_id(enriched: EnrichedArticle) -> str:
    return enriched.article.id


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


# ---------------------------------------------------------------- the three steps as one fold (a live stream)

def exact_step(settings: DedupSettings) -> ShardedStep:
    """`FirstById`'s step: `ExactFirstStep` per article id inside the id shards, kept `horizon_days`."""
    return ShardedStep(ExactFirstStep(settings), _by_article_id, _kept_time, settings.horizon_micros)


def bucket_step(settings: DedupSettings) -> ShardedStep:
    """`MatchInBands`' step: `BucketStep` per band key inside the band shards, kept `horizon_days`."""
    return ShardedStep(BucketStep(settings), _by_band, _bucket_time, settings.horizon_micros)


@dataclass(frozen=True)
class LiveDedupStep:
    """`FirstById`, `MatchInBands` and `DecideCluster` as one fold step over a single key (a live stream).

    The same `ShardedStep`s on the same shards, run in the same order per shard, so the verdicts equal the
    three-stage layout's (`pipeline.dedup`); an article is decided in the flush that takes it in, with every
    band's report at hand, so no collector waits for reports. One key cannot be spread over workers: this is
    the single-machine layout (`process.layout`), where a keyed stage costs a bundle cycle of the runner per
    tick and the three stages with their 13 elements per article cost far more than their work.
    """

    settings: DedupSettings = field(default_factory=DedupSettings)
    namespace: str = "dedup"

    @cached_property
    def exact(self):
        return exact_step(self.settings)

    @cached_property
    def buckets(self):
        return bucket_step(self.settings)

    def order_key(self, enriched: EnrichedArticle):
        return self.exact.order_key(enriched)

    def run(self, key: str, state: ShardSet | None, values: list[EnrichedArticle]):
        st, shards = self.settings, state if state is not None else ShardSet()
        shards.touched = set()
        exact, buckets, out = self.exact, self.buckets, []
        firsts = []
        for shard, records in sorted(group_by_shard(values, _article_id, st.id_shards, "e").items()):
            for verdict, enriched in shards.run("exact", exact, shard, records):
                (firsts.append(enriched) if verdict == "first" else out.append((verdict, enriched)))
        bands: dict[str, list[tuple[str, Candidate]]] = {}
        for enriched in firsts:
            for shard, entry in band_entries(enriched, st.bucket_shards):
                bands.setdefault(shard, []).append(entry)
        reports: dict[str, list[BandReport]] = {}
        for shard in sorted(bands):
            for report in shards.run("bands", buckets, shard, sorted(bands[shard], key=buckets.order_key)):
                BAND_REPORTS.inc()
                reports.setdefault(report.article_id, []).append(report)
        for enriched in firsts:
            out.append(("first", decide_cluster(enriched, reports.get(enriched.article.id, []))))
        return (shards if shards.shards else None), out

    def take_changes(self, shards: ShardSet) -> dict[tuple[str, str], Any]:
        return shards.take_changes({"exact": self.exact, "bands": self.buckets})

    def apply_changes(self, shards: ShardSet | None, changes: dict[tuple[str, str], Any]) -> ShardSet:
        shards = shards if shards is not None else ShardSet()
        shards.apply_changes({"exact": self.exact, "bands": self.buckets}, changes)
        return shards


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
    """EnrichedArticle → EnrichedArticle (exact duplicates dropped, near-duplicates marked).

    `layout`: "sharded", the three folds on their shard keys (they spread over workers), or "single", the three
    as one fold on one key (`LiveDedupStep`: one worker, no band reports between stages; on one machine far
    faster on a stream, docs/benchmarks.md). The verdicts are the same.
    """

    def __init__(self, settings: DedupSettings | None = None, tick_micros: int = DEFAULT_TICK_MICROS,
                 layout: str = "sharded"):
        super().__init__()
        if layout not in LAYOUTS:
            raise ValueError(f"dedup layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
        self.settings = settings or DedupSettings()
        self.tick_micros = tick_micros
        self.layout = layout

    def expand(self, enriched):
        st, tick = self.settings, self.tick_micros
        exact, buckets = exact_step(st), bucket_step(st)
        # A bounded input is folded grouped: DecideCluster then sees all of an article's reports at once and
        # needs only those with matches: 12 report elements per article fewer, bar the few that matched.
        whole = enriched.is_bounded
        if self.layout == "single":
            return (
                enriched
                | "KeyAll" >> beam.Map(lambda e: ("dedup", e)).with_output_types(tuple[str, EnrichedArticle])
                | "Deduplicate" >> OrderedFold(LiveDedupStep(st), tick)
                | "DropExact" >> beam.ParDo(KeepFirstFn())
                | "CountNear" >> beam.ParDo(CountOutcomesFn()).with_output_types(EnrichedArticle)
            )
        collect = ShardedStep(CollectStep(whole_input=whole), _by_part, _no_time, st.horizon_micros)
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
