"""Deduplication decisions without Beam: the self-describing fixture cases, exact duplicates, order independence,
article-time horizon, and the state an article costs."""

from __future__ import annotations

import json
import pickle
import random
from collections import Counter
from pathlib import Path

import pytest

from pipeline.dedup_match import (
    BandReport,
    BucketStep,
    Candidate,
    DedupSettings,
    ExactFirstStep,
    Match,
    decide_cluster,
    deduplicate_batch,
    order_of,
    site_of,
)
from pipeline.sketch import sketch_text
from schemas.records import EnrichedArticle, RawArticle

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dedup"
CASES = sorted(FIXTURES.glob("*.json"))


def enriched(row: dict) -> EnrichedArticle:
    return EnrichedArticle(article=RawArticle.model_validate(row), relevant=True, relevance_score=1.0,
                           ontology_version="t")


def load(case: Path) -> tuple[dict, list[EnrichedArticle]]:
    data = json.loads(case.read_text(encoding="utf-8"))
    return data, [enriched(row) for row in data["articles"]]


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_fixture_case(case):
    data, articles = load(case)
    marked = {a.article.id: a for a in deduplicate_batch(articles)}
    assert {k: v.duplicate_of for k, v in marked.items()} == data["expect"]["duplicate_of"], data["description"]
    for article_id, original in data["expect"]["duplicate_of"].items():
        assert marked[article_id].cluster_id == (original or article_id)


def test_there_are_fixture_cases_for_every_required_kind_of_copy():
    assert {c.stem for c in CASES} >= {"wire_copies", "spam_injected", "republished_new_url", "shared_boilerplate"}


@pytest.mark.parametrize("seed", range(5))
def test_input_order_does_not_change_the_verdicts(seed):
    _, articles = load(FIXTURES / "wire_copies.json")
    shuffled = articles[:]
    random.Random(seed).shuffle(shuffled)
    first = sorted(a.model_dump_json() for a in deduplicate_batch(articles))
    assert sorted(a.model_dump_json() for a in deduplicate_batch(shuffled)) == first


def test_the_earliest_article_is_the_original_even_when_processed_last_in_input():
    _, articles = load(FIXTURES / "wire_copies.json")
    marked = {a.article.id: a.duplicate_of for a in deduplicate_batch(list(reversed(articles)))}
    assert marked["wire-original"] is None and marked["wire-site-d"] == "wire-original"


def test_exact_duplicates_keep_the_first_record_of_an_id():
    _, articles = load(FIXTURES / "wire_copies.json")
    original = articles[0]
    edited = original.model_copy(update={"article": original.article.model_copy(update={"title": "Edited"})})
    step = ExactFirstStep()
    values = sorted([edited, original, original], key=step.order_key)
    state, out = step.run(original.article.id, None, values)
    assert [verdict for verdict, _ in out] == ["first", "exact_duplicate", "exact_duplicate"]
    _, again = step.run(original.article.id, state, [original])
    assert again == [("exact_duplicate", original)]
    assert len(deduplicate_batch([edited, original, original])) == 1


def test_a_copy_outside_the_horizon_is_not_a_copy():
    _, articles = load(FIXTURES / "republished_new_url.json")
    original, republished = articles
    late = republished.model_copy(update={"article": republished.article.model_copy(
        update={"published": original.article.published.replace(year=2025)})})
    assert {a.article.id: a.duplicate_of for a in deduplicate_batch([original, late])} == {
        original.article.id: None, late.article.id: None}


def test_bucket_members_are_pruned_by_article_time():
    settings = DedupSettings(horizon_days=1)
    _, articles = load(FIXTURES / "wire_copies.json")
    sketch = sketch_text(articles[0].article.title, articles[0].article.text)[0]
    old = Candidate("old", (0, "old"), sketch)
    new = Candidate("new", (3 * 86_400 * 1_000_000, "new"), sketch)
    state, reports = BucketStep(settings).run("00:ab", [old], [new])
    assert [c.article_id for c in state] == ["new"] and reports == [BandReport("new", "00:ab", ())]


def test_the_decision_is_the_earliest_match_whatever_the_report_order():
    a, b = Match("b-first", (1, "b-first"), 0.9, 0.8), Match("c-second", (2, "c-second"), 0.99, 0.9)
    reports = [BandReport("x", "01:x", (b,)), BandReport("x", "00:x", (a,))]
    _, articles = load(FIXTURES / "wire_copies.json")
    one = decide_cluster(articles[0], reports)
    other = decide_cluster(articles[0], list(reversed(reports)))
    assert one == other and one.duplicate_of == "b-first" and one.cluster_id == "b-first"


def test_site_is_the_host_without_www_or_the_outlet():
    _, articles = load(FIXTURES / "wire_copies.json")
    assert site_of(articles[0]) == "wire.example"
    bare = articles[0].model_copy(update={"article": articles[0].article.model_copy(update={"url": None})})
    assert site_of(bare) == "example wire"


def test_state_bytes_per_article():
    """The dedup state one article costs (pickled as the runner stores it): 12 bucket entries + its id."""
    _, articles = load(FIXTURES / "wire_copies.json")
    article = articles[0]
    sketch, keys = sketch_text(article.article.title, article.article.text)
    entry = Candidate(article.article.id, order_of(article), sketch, "wire.example")
    per_bucket = len(pickle.dumps(entry))
    per_article = len(keys) * per_bucket + len(pickle.dumps((article.article.id, order_of(article)[0])))
    assert 12 * 150 < per_article < 12 * 400, per_article  # 4.4 kB on average for the gold set (43-byte ids)


def test_a_dropped_exact_duplicate_reports_its_raw_position_finished():
    from pipeline import ledger
    from pipeline.dedup import KeepFirstFn

    _, articles = load(FIXTURES / "wire_copies.json")
    topic = "t-dedup-ledger.raw"
    ledger.begin(topic, 0, 7)
    copy = articles[0].model_copy(update={"article": articles[0].article.model_copy(
        update={"source_position": f"{topic}[0]@7"})})
    assert list(KeepFirstFn().process(("exact_duplicate", copy))) == []
    assert ledger.safe_offset(topic, 0) == 8


# ---------------------------------------------------------------- folding a bounded input, and its end

def test_a_stream_decides_when_all_reports_are_in_a_bounded_input_at_its_end():
    from pipeline.dedup_match import ArticlePart, CollectStep

    _, articles = load(FIXTURES / "wire_copies.json")
    copy = articles[1]
    report = BandReport(copy.article.id, "00:x", (Match("wire-original", (1, "wire-original"), 0.9, 0.8),))
    empty = BandReport(copy.article.id, "01:y", ())
    stream = CollectStep()
    state, out = stream.run(copy.article.id, None, [ArticlePart(copy, 2), report])
    assert out == [] and state is not None  # one of two reports: it waits
    state, out = stream.run(copy.article.id, state, [empty])
    assert state is None and [o.duplicate_of for o in out] == ["wire-original"]
    bounded = CollectStep(whole_input=True)  # the empty report is never sent
    state, out = bounded.run(copy.article.id, None, [ArticlePart(copy, 2), report])
    assert out == [] and [o.duplicate_of for o in bounded.finish(copy.article.id, state)] == ["wire-original"]
    alone = bounded.run("alone", None, [ArticlePart(articles[0], 12)])[0]
    assert [o.cluster_id for o in bounded.finish("alone", alone)] == [articles[0].article.id]
    assert bounded.finish("orphan", bounded.run("orphan", None, [report])[0]) == []  # reports without their article


def test_folding_a_key_tick_by_tick_equals_folding_it_as_the_timers_flush():
    from dataclasses import dataclass

    from pipeline.merge_order import fold_in_ticks, next_tick, ready_in_order
    from pipeline.shards import ShardedStep

    @dataclass(frozen=True)
    class Record:
        namespace: str = "t"

        def order_key(self, value):
            return value

        def run(self, key, state, values):
            seen = state or 0
            return seen + 1, [f"{key}|{seen}|{','.join(values)}"]

        def finish(self, key, state):
            return [f"{key}|end after {state}"]

    step = ShardedStep(Record(), lambda v: (v[0], v), lambda _s: None, 10**12)
    stamped = [(25, "b2"), (3, "a1"), (3, "b1"), (12, "a2"), (3, "a0")]
    shuffled = stamped[:]
    random.Random(3).shuffle(shuffled)
    folded = list(fold_in_ticks(step, "k", shuffled, 10))
    assert folded == list(fold_in_ticks(step, "k", stamped, 10))
    # what the timer path does: flush each tick's values, in (timestamp, order key) order
    state, pending, flushes = None, [(ts, step.order_key(v), v) for ts, v in stamped], []
    for due in sorted({next_tick(ts, 10) for ts, _ in stamped}):
        ready, pending = ready_in_order(pending, due)
        state, out = step.run("k", state, [item[2] for item in ready])
        flushes.append((due, out))
    assert folded[:-1] == flushes
    assert folded == [(10, ["a|0|a0,a1", "b|0|b1"]), (20, ["a|1|a2"]), (30, ["b|1|b2"]),
                      (30, ["a|end after 2", "b|end after 2"])]


# ---------------------------------------------------------------- the three folds as one (a live stream)

def held(shards) -> dict:
    """What a `ShardSet` holds, comparable: shard → sub-key → (pickled sub-state, clock), and each newest clock."""
    return {name: ({k: (pickle.dumps(v), shard.clocks[k]) for k, v in shard.states.items()}, shard.newest)
            for name, shard in shards.shards.items()}


@pytest.mark.parametrize("seed", range(4))
def test_the_single_fold_gives_the_three_folds_verdicts_in_any_flushes(seed):
    """`LiveDedupStep` (dedup on one key) marks every fixture article as the batch folds do, however the
    stream is cut into flushes; a repeated record of an id is dropped; and its state log read back (the
    change sets of each flush applied to the last snapshot) is the state it holds."""
    from pipeline.dedup import LiveDedupStep
    from pipeline.merge_order import Meta, record, restore

    rng = random.Random(seed)
    articles = [a for case in CASES for a in load(case)[1]]
    repeats = [a.model_copy(update={"relevance_score": 0.5}) for a in rng.sample(articles, 3)]
    expected = {a.article.id: (a.duplicate_of, a.cluster_id) for a in deduplicate_batch(articles + repeats)}
    assert any(original for original, _ in expected.values())  # copies among them
    step = LiveDedupStep()
    # a live stream in article order, several records to a timestamp (a repeated record with its first one);
    # out of order, an original that arrives after its copy is no longer theirs, in either layout
    stamps, stamp = {}, 0
    for article in sorted(articles, key=order_of):
        stamps.setdefault(article.article.id, stamp)
        stamp += rng.randint(0, 1)
    stream = sorted(articles + repeats, key=lambda a: (stamps[a.article.id], step.order_key(a)))
    state, meta, log, verdicts, dropped = None, Meta(), [], {}, []
    while stream:
        cut = rng.randint(1, 9)
        flush, stream = stream[:cut], stream[cut:]
        state, out = step.run("dedup", state, flush)
        for verdict, article in out:
            if verdict == "first":
                assert article.article.id not in verdicts
                verdicts[article.article.id] = (article.duplicate_of, article.cluster_id)
            else:
                dropped.append(article.article.id)
        renew, entry, meta = record(step, state, meta)
        log = ([] if renew else log) + ([entry] if entry is not None else [])
        assert held(restore(step, log)) == held(state)
    assert verdicts == expected
    records = Counter(a.article.id for a in articles + repeats)  # the fixtures share one wire original
    assert Counter(dropped) == records - Counter(records.keys()) and len(dropped) >= len(repeats)
