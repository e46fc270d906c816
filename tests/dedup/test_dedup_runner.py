"""DeduplicateArticles on Prism (batch): every article comes out exactly once, with the pure folds' verdicts,
even when the runner splits a slow bundle.

Prism 2.62 splits any bundle that shows no progress for two of its 100 ms progress ticks, and it runs the
residual of a split as if it were stateless: without the keys' state and without owning the keys, then
overwrites their state when it commits (apache/beam#35771). A stateful fold that is split loses what the
other half wrote: a band report goes missing and its article never comes out. Here one slow step forces
that split; on a loaded machine a replay of the feed archive gets there by itself (1,281 to 3,449 of its
48,995 articles lost, a different number each run). Bounded folds now group their keys instead
(`pipeline.merge_order.OrderedFold`), which a split cannot cut through.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter

from pipeline.dedup import DeduplicateArticles, band_reports_missing
from pipeline.dedup_match import BucketStep, deduplicate_batch
from pipeline.runners import runner_options
from schemas.records import EnrichedArticle, RawArticle

pytestmark = pytest.mark.runner
WORDS = [f"w{i}" for i in range(3_000)]


def article(article_id: str, text: str, hour: int) -> EnrichedArticle:
    return EnrichedArticle(article=RawArticle(id=article_id, url=f"https://{article_id}.example/a", title="",
                                              text=text, published=f"2024-10-{1 + hour // 24:02d}T{hour % 24:02d}:00:00Z"),
                           relevant=False, relevance_score=0.0, ontology_version="t")


def corpus(n: int = 240, seed: int = 7) -> list[EnrichedArticle]:
    """`n` stories of 60 random words, every fifth one followed by a lightly edited copy on another site."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(60)]
        out.append(article(f"story-{i:04d}", " ".join(words), i % 500))
        if i % 5 == 0:
            copy = words[:55] + ["also", "reported", "by", "another", "site"]
            out.append(article(f"copy-{i:04d}", " ".join(copy), i % 500 + 1))
    return out


class WriteEachFn(beam.DoFn):
    def __init__(self, directory: str):
        self.directory = directory

    def process(self, element):
        (Path(self.directory) / f"{uuid.uuid4().hex}.json").write_text(element.model_dump_json(), encoding="utf-8")


def run_dedup(articles: list[EnrichedArticle], out_dir: Path):
    out_dir.mkdir(parents=True, exist_ok=True)
    pipeline = beam.Pipeline(options=runner_options("prism"))
    (pipeline
     | "Articles" >> beam.Create(articles).with_output_types(EnrichedArticle)
     | "Dedup" >> DeduplicateArticles()
     | "Collect" >> beam.ParDo(WriteEachFn(str(out_dir))))
    result = pipeline.run()
    result.wait_until_finish()
    outputs = [EnrichedArticle.model_validate_json(p.read_text(encoding="utf-8")) for p in out_dir.glob("*.json")]
    return outputs, result


@pytest.fixture
def slow_bucket_step(monkeypatch):
    """The first bucket value handled stalls the worker for 1.5 s: long enough for Prism to split its bundle."""
    stalled = threading.Event()
    order_key = BucketStep.order_key

    def stalling(self, candidate):
        if not stalled.is_set():
            stalled.set()
            time.sleep(1.5)
        return order_key(self, candidate)

    monkeypatch.setattr(BucketStep, "order_key", stalling)
    return stalled


def test_every_article_comes_out_once_with_the_pure_verdicts_when_a_slow_bundle_is_split(
        prism_binary, tmp_path, slow_bucket_step):
    articles = corpus()
    outputs, result = run_dedup(articles, tmp_path / "out")
    assert slow_bucket_step.is_set()
    ids_out = sorted(o.article.id for o in outputs)
    missing = sorted({a.article.id for a in articles} - set(ids_out))
    assert not missing, f"{len(missing)} of {len(articles)} articles lost, e.g. {missing[:5]}"
    assert ids_out == sorted(a.article.id for a in articles)  # each exactly once
    expected = sorted(a.model_dump_json() for a in deduplicate_batch(articles))
    assert sorted(o.model_dump_json() for o in outputs) == expected
    assert sum(1 for o in outputs if o.duplicate_of) == 48
    counters = {f"{c.key.metric.namespace}.{c.key.metric.name}": c.committed or c.attempted or 0
                for c in result.metrics().query(MetricsFilter().with_namespace("dedup"))["counters"]}
    assert counters["dedup.band_keys"] > 0 and band_reports_missing(counters) == 0


def test_a_band_report_lost_in_a_bounded_run_is_counted_and_the_article_still_comes_out_once(
        prism_binary, tmp_path, monkeypatch):
    """On bounded input only reports with matches reach the decision, so a lost one cannot be waited for: the
    article is decided on the others, and the loss shows in the counters (band keys routed > reports made)."""
    from pipeline import dedup

    articles = corpus(20)
    losing = articles[1]  # copy-0000: a near-duplicate of story-0000 when decided
    route = dedup.sketch_and_route

    def losing_a_band(enriched, bucket_shards, id_shards):
        bands = 0
        for out in route(enriched, bucket_shards, id_shards):
            if not isinstance(out, beam.pvalue.TaggedOutput) and enriched.article.id == losing.article.id:
                bands += 1
                if bands == 1:
                    continue  # the candidate of its first band never reaches its bucket
            yield out

    monkeypatch.setattr(dedup, "sketch_and_route", losing_a_band)
    outputs, result = run_dedup(articles, tmp_path / "out")
    assert sorted(o.article.id for o in outputs) == sorted(a.article.id for a in articles)
    counters = {f"{c.key.metric.namespace}.{c.key.metric.name}": c.committed or c.attempted or 0
                for c in result.metrics().query(MetricsFilter().with_namespace("dedup"))["counters"]}
    assert counters["dedup.band_keys"] == 12 * len(articles)
    assert dedup.band_reports_missing(counters) == 1
    expected = {a.article.id: a.duplicate_of for a in deduplicate_batch(articles)}
    assert {o.article.id: o.duplicate_of for o in outputs} == expected  # the other bands still found the copy


class FlushRecord:
    """A fold step that outputs, per flush, the values it got and how many flushes the key had before."""

    namespace = "test"

    def order_key(self, value):
        return value

    def run(self, key, state, values):
        seen = state or 0
        return seen + 1, [f"{key}|flush{seen}|{','.join(values)}"]


class WithTimestampFn(beam.DoFn):
    def __init__(self, directory: str):
        self.directory = directory

    def process(self, element, ts=beam.DoFn.TimestampParam):
        (Path(self.directory) / f"{uuid.uuid4().hex}.txt").write_text(f"{ts.micros}|{element}", encoding="utf-8")


def test_a_bounded_ordered_fold_flushes_each_tick_in_order_and_stamps_outputs_with_it(prism_binary, tmp_path):
    from apache_beam.transforms.window import TimestampedValue

    from pipeline.merge_order import OrderedFold

    tick = 10_000_000  # 10 s
    values = [("k", "late-ts-b", 8), ("k", "a", 2), ("j", "w", 4), ("k", "early-ts-z", 1), ("k", "next-tick", 12)]
    pipeline = beam.Pipeline(options=runner_options("prism"))
    (pipeline
     | beam.Create(values)
     | beam.Map(lambda v: TimestampedValue((v[0], v[1]), v[2])).with_output_types(tuple[str, str])
     | OrderedFold(FlushRecord(), tick)
     | beam.ParDo(WithTimestampFn(str(tmp_path))))
    pipeline.run().wait_until_finish()
    out = sorted(p.read_text(encoding="utf-8") for p in tmp_path.glob("*.txt"))
    assert out == sorted([f"{tick}|k|flush0|early-ts-z,a,late-ts-b", f"{tick}|j|flush0|w",
                          f"{2 * tick}|k|flush1|next-tick"])
