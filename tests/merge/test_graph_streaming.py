"""DeduplicateArticles → ExplodeMentions → MergeEvents → RaiseAlerts on Prism: the same ids, revisions and alerts
whatever the input order, the bundle boundaries or the watermark steps; the same as the pure folds (batch);
a late article is processed, not lost."""

from __future__ import annotations

import json
import random
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing import test_stream
from apache_beam.transforms.window import TimestampedValue

from pipeline.alerting import RaiseAlerts, alerts_batch, load_rules
from pipeline.dedup import DeduplicateArticles
from pipeline.dedup_match import deduplicate_batch
from pipeline.live import MergeAndAlert
from pipeline.merge import MergeEvents
from pipeline.merge_build import merge_batch
from pipeline.stages import ExplodeMentions, mentions_of
from schemas.records import EnrichedArticle

pytestmark = pytest.mark.runner
WIRE = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "dedup" / "wire_copies.json").read_text())


@pytest.fixture
def articles(make_article, make_event):
    """A wire story and two copies, an outlet's own report with another figure, a confirmation, another story."""
    rows = {row["id"]: row for row in WIRE["articles"]}
    shipment = {"type": "weapons_transfer", "place": "Dunai", "source": "researchers"}

    def wire(article_id, **extra):
        row = rows[article_id]
        return make_article(article_id, row["text"], row["published"], url=row["url"], title=row["title"],
                            events=[make_event(quantities={"containers": 200}, **shipment, **extra)])

    return [
        wire("wire-original"), wire("wire-site-b"), wire("wire-site-c"),
        make_article("own-report", "Our reporter counted the boxes on the quay at Dunai himself this morning.",
                     "2024-10-15T12:00:00Z", events=[make_event(quantities={"containers": 350}, **shipment)]),
        make_article("kremlin", "The Kremlin said the cargo at Dunai was a lawful delivery between neighbours.",
                     "2024-10-16T12:00:00Z", events=[make_event(type="weapons_transfer", place="Dunai",
                                                                modality="confirmed", source="Kremlin")]),
        make_article("visit", "The defence minister landed in Pyongyang for talks on the second day of the month.",
                     "2024-11-29T06:00:00Z", events=[make_event(type="leader_meeting_or_visit", place="Pyongyang",
                                                                actors=("RUS", "PRK"), modality="asserted")]),
    ]


class Chain(beam.PTransform):
    """The graph's stages from dedup to alerts; outputs tagged "article|", "event|", "alert|" (as JSON)."""

    def __init__(self, layout: str = "sharded"):
        super().__init__()
        self.layout = layout

    def expand(self, articles):
        enriched = (articles
                    | "Typed" >> beam.Map(lambda a: a).with_output_types(EnrichedArticle)
                    | "Dedup" >> DeduplicateArticles(layout=self.layout))
        mentions = enriched | "Mentions" >> ExplodeMentions()
        if self.layout == "single":
            merged = mentions | "MergeAndAlert" >> MergeAndAlert(load_rules())
            events, alerts = merged["events"], merged["alerts"]
        else:
            merged = mentions | "Merge" >> MergeEvents()
            events = merged["events"]
            alerts = merged["revisions"] | "Alerts" >> RaiseAlerts(load_rules())
        return ((enriched | "A" >> beam.Map(lambda r: "article|" + r.model_dump_json()),
                 events | "E" >> beam.Map(lambda r: "event|" + r.model_dump_json()),
                 alerts | "L" >> beam.Map(lambda r: "alert|" + r.model_dump_json()))
                | beam.Flatten())


def oracle(articles) -> list[str]:
    marked = deduplicate_batch(articles)
    merged = merge_batch([m for a in marked for m in mentions_of(a)])
    return sorted(["article|" + a.model_dump_json() for a in marked]
                  + ["event|" + e.model_dump_json() for e in merged.events]
                  + ["alert|" + a.model_dump_json() for a in alerts_batch(merged.revisions, load_rules())])


def repr_to_lines(out: list[str]) -> list[str]:
    return sorted(eval(line) for line in out)  # WriteEachFn stores repr() of the strings


@pytest.mark.parametrize("layout", ["sharded", "single"])
def test_a_replay_in_any_input_order_gives_the_pure_folds_result(prism, articles, layout):
    expected = oracle(articles)
    assert any(line.startswith("alert|") and '"kind":"confirmation"' in line for line in expected)
    assert any('"duplicate_of":"wire-original"' in line for line in expected)
    shuffled = articles[:]
    random.Random(1).shuffle(shuffled)
    for order in (articles, shuffled):
        assert repr_to_lines(prism(beam.Create(order), Chain(layout), streaming=False)) == expected


def _stream(pairs, watermark_steps):
    """TestStream of (article, event-time seconds) in the given arrival order, advancing the watermark at the
    given positions to just below the smallest timestamp still to come (so no element is late)."""
    stream = test_stream.TestStream()
    for position, (article, seconds) in enumerate(pairs):
        if position in watermark_steps:
            stream = stream.advance_watermark_to(min(s for _, s in pairs[position:]) - 1)
        stream = stream.add_elements([TimestampedValue(article, seconds)])
    return stream.advance_watermark_to_infinity()


@pytest.mark.parametrize("layout", ["sharded", "single"])
def test_streaming_arrival_order_and_watermark_steps_change_nothing(prism, articles, layout):
    times = {a.article.id: 1_000 + 7 * i for i, a in enumerate(articles)}  # ingestion times of the records
    pairs = [(a, times[a.article.id]) for a in articles]
    in_order = prism(_stream(pairs, watermark_steps={2, 4}), Chain(layout))
    mixed = pairs[:]
    random.Random(5).shuffle(mixed)
    shuffled = prism(_stream(mixed, watermark_steps=set()), Chain(layout))
    assert repr_to_lines(in_order) == repr_to_lines(shuffled)
    events = [json.loads(line[len("event|"):]) for line in repr_to_lines(in_order) if line.startswith("event|")]
    assert max(e["revision"] for e in events) >= 4  # the wire story, its copies and the report merged


@pytest.mark.parametrize("layout", ["sharded", "single"])
def test_a_late_article_is_still_processed_and_counted(prism, articles, layout):
    stream = (test_stream.TestStream()
              .add_elements([TimestampedValue(a, 1_000) for a in articles[1:]])
              .advance_watermark_to(5_000)
              .add_elements([TimestampedValue(articles[0], 1_000)])  # behind the watermark
              .advance_watermark_to_infinity())
    lines = repr_to_lines(prism(stream, Chain(layout)))
    assert any(line.startswith("article|") and '"id":"wire-original"' in line for line in lines)
    assert any(line.startswith("event|") and '"article_id":"wire-original"' in line for line in lines)
    counters = prism.last_result.metrics().query(MetricsFilter().with_name("late"))["counters"]
    assert sum(c.committed or c.attempted or 0 for c in counters) >= 1


def test_the_single_layout_gives_the_sharded_layout_s_outputs(prism, articles):
    """Dedup as one fold on one key and merging and alerting as one fold on another (the default on Prism),
    and the seven folds on their shard keys: the same articles, events and alerts, on a stream whose records
    arrive out of article order."""
    times = {a.article.id: 1_000 + 7 * i for i, a in enumerate(articles)}
    mixed = [(a, times[a.article.id]) for a in articles]
    random.Random(11).shuffle(mixed)
    single = repr_to_lines(prism(_stream(mixed, watermark_steps={3}), Chain("single")))
    assert single == repr_to_lines(prism(_stream(mixed, watermark_steps={3}), Chain("sharded")))
    assert any('"duplicate_of":"wire-original"' in line for line in single)
