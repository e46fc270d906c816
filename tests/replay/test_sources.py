"""Replay sources without Beam: discovery and fetch times, each kind of input read into articles and dead
letters with counts that balance, repeats collapsed to the earliest snapshot, the event-time range, pacing."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.replay import ReplayError, ReplayOptions
from pipeline.replay_kafka import KafkaTarget, parse_speed, schedule
from pipeline.replay_transforms import EarliestSnapshotFn, RawArticleCoder, in_range
from pipeline.sources import DOCUMENT, JSONL, WARC, SourceError, discover, earlier, fetch_time_of
from pipeline.sources_read import Tally, entries_export, read_unit
from schemas.records import DeadLetter, RawArticle
from tests.replay.warc import PAGE_URL, write_warc

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "replay"


def _read_all(paths: list[Path]) -> tuple[list[RawArticle], list[DeadLetter], Tally]:
    counts = Tally()
    articles, dead = [], []
    for unit in discover(paths).units():
        for record in read_unit(unit, counts):
            (articles if isinstance(record, RawArticle) else dead).append(record)
    return articles, dead, counts


def _balanced(counts: Tally) -> bool:
    items = counts["entries"] + counts["lines"] + counts["pages"]
    return items == (counts["articles_read"] + counts["item_dead_letters"] + counts["duplicates_in_document"]
                     + counts["over_entry_limit"])


def test_discovery_sorts_kinds_and_lists_what_it_does_not_read(tmp_path):
    warc = write_warc(tmp_path / "crawl.warc.gz")
    inventory = discover([FIXTURES, warc])
    kinds = {Path(f.path).name: f.kind for f in inventory.files}
    assert kinds["articles.jsonl"] == JSONL
    assert kinds["crawl.warc.gz"] == WARC
    assert kinds["20240304T120000Z.atom"] == kinds["sources.json"] == DOCUMENT
    assert inventory.skipped == {str(FIXTURES / "README.md"): "not input: README/LICENSE-like file"}
    assert len(inventory.files) + len(inventory.skipped) == sum(len(f) for _, _, f in os.walk(FIXTURES)) + 1
    # documents of one directory are read in fetch-time order, in the same unit
    east = [u for u in inventory.units() if "east-desk" in u.files[0].path]
    assert [Path(f.path).name for f in east[0].files] == sorted(p.name for p in (FIXTURES / "feeds/east-desk").iterdir())


def test_fetch_time_from_the_stamp_else_the_mtime(tmp_path):
    stamped = FIXTURES / "feeds" / "east-desk" / "20240302T061500Z.xml"
    assert fetch_time_of(stamped) == datetime(2024, 3, 2, 6, 15, tzinfo=UTC)
    plain = tmp_path / "feed.xml"
    plain.write_text("<rss/>")
    os.utime(plain, (1_700_000_000, 1_700_000_000))
    assert fetch_time_of(plain) == datetime.fromtimestamp(1_700_000_000, tz=UTC)


def test_a_missing_source_is_an_error(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        discover([tmp_path / "nope"])


def test_feed_snapshots_give_each_article_once_from_its_earliest_snapshot():
    articles, dead, counts = _read_all([FIXTURES / "feeds"])
    by_id = {a.id: a for a in articles}
    assert len(by_id) == len(articles)
    troops = by_id["https://east-desk.example.net/news/troops-training-ground"]  # tracking parameter dropped
    assert troops.origin.endswith("20240301T060000Z.xml")
    assert troops.fetched_at == datetime(2024, 3, 1, 6, 0, tzinfo=UTC)
    assert not troops.text.startswith("UPDATED")
    assert counts["repeats_in_unit"] == 2  # troops and harbour festival repeat in the second snapshot
    assert {a.origin.rsplit("/", 2)[-2] for a in articles} == {"east-desk", "atom-wire", "rdf-bulletin"}
    assert by_id["https://atom-wire.example.com/2024/03/air-links"].published == datetime(2024, 3, 4, 6, tzinfo=UTC)
    assert [(d.reason, Path(d.payload_ref).name) for d in dead] == [("not_a_feed", "20240303T060000Z.xml")]
    assert counts["feed_documents"] == counts["files_read"] == 5
    assert _balanced(counts)


def test_entries_export_goes_through_the_feed_normaliser():
    path = FIXTURES / "entries" / "2024" / "03" / "2024-03-05" / "https.news.example.orgworld_entries.json"
    articles, dead, counts = _read_all([path])
    assert [a.id for a in articles] == ["https://news.example.org/world/delegation", "https://news.example.org/world/rates"]
    first = articles[0]
    assert first.published == datetime(2024, 3, 5, 8, 15, tzinfo=UTC) and not first.published_inferred
    assert first.language == "en" and first.outlet == "Example World News"
    assert "<p>" not in first.text and "Russian defence delegation" in first.text
    assert sorted(d.reason for d in dead) == ["empty_entry", "invalid_entry"]
    assert dead[0].payload_ref.startswith(str(path) + "#")
    assert counts["entries_exports"] == 1 and counts["entries"] == 4 and _balanced(counts)


def test_a_json_list_that_is_no_export_is_read_as_a_document():
    assert entries_export((FIXTURES / "entries" / "sources.json").read_bytes()) is None
    articles, dead, counts = _read_all([FIXTURES / "entries" / "sources.json"])
    assert articles == [] and [d.reason for d in dead] == ["not_a_feed"]
    assert counts["feed_documents"] == 1 and counts["entries_exports"] == 0


def test_jsonl_lines_are_articles_or_decode_dead_letters():
    articles, dead, counts = _read_all([FIXTURES / "articles.jsonl"])
    assert len(articles) == 3 and counts["lines"] == 4
    assert [d.stage for d in dead] == ["decode"] and dead[0].payload_ref.endswith("articles.jsonl:4")
    assert articles[2].origin.endswith("articles.jsonl:3")  # no origin in the line: its place in the file


def test_warc_feed_and_page_records(tmp_path):
    warc = write_warc(tmp_path / "crawl.warc.gz")
    articles, dead, counts = _read_all([warc])
    by_id = {a.id: a for a in articles}
    train = by_id[PAGE_URL]
    # the feed item and its page are one article: the feed item, with the page's longer main text
    assert "about forty containers" in train.text and "Copyright" not in train.text
    assert train.fetched_at == datetime(2024, 3, 8, 6, tzinfo=UTC)
    assert train.published == datetime(2024, 3, 8, 3, tzinfo=UTC) and not train.published_inferred
    assert [d.reason for d in dead] == ["record_not_readable"] and "404" in dead[0].error
    assert counts["warc_records"] == 3 and counts["warc_other_records"] == 3 and counts["pages_merged"] == 1
    assert _balanced(counts)


def test_a_page_alone_is_an_article_with_its_metadata(tmp_path):
    from pipeline.sources_warc import page_article
    from tests.replay.warc import PAGE

    article = page_article(PAGE, PAGE_URL + "?utm_source=x", datetime(2024, 3, 9, tzinfo=UTC), "crawl.warc#1",
                           "text/html; charset=utf-8")
    assert article.id == PAGE_URL and article.title == "Munitions train leaves Rajin port for Russia"
    assert article.outlet == "Harbour Post" and article.language == "en"
    assert article.published == datetime(2024, 3, 8, 3, tzinfo=UTC)
    undated = page_article(PAGE.replace(b"article:published_time", b"x"), PAGE_URL, datetime(2024, 3, 9, tzinfo=UTC),
                           "crawl.warc#1")
    assert undated.published_inferred and undated.published == datetime(2024, 3, 9, tzinfo=UTC)


def _article(origin: str, fetched: datetime | None, text: str = "t") -> RawArticle:
    return RawArticle(id="https://x.example/a", title="a", text=text, origin=origin, fetched_at=fetched)


def test_the_kept_snapshot_does_not_depend_on_arrival_order():
    t = datetime(2024, 3, 1, tzinfo=UTC)
    records = [_article("b.xml", t + timedelta(hours=1)), _article("a.xml", t, "late text"), _article("c.jsonl:1", None),
               _article("a.xml", t, "early text")]
    combine = EarliestSnapshotFn()
    for order in (records, records[::-1], records[1:] + records[:1]):
        acc = combine.create_accumulator()
        for r in order:
            acc = combine.add_input(acc, r)
        assert acc == _article("a.xml", t, "early text")
    assert earlier(records[2], records[0]) == records[0]  # a known fetch time beats none
    coder = RawArticleCoder()
    assert coder.decode(coder.encode(records[0])) == records[0]


def test_time_range_is_half_open_on_event_time():
    since, until = datetime(2024, 3, 2, tzinfo=UTC), datetime(2024, 3, 5, tzinfo=UTC)
    at = lambda when: RawArticle(id="x", published=when)
    assert in_range(at(since), since, until) and not in_range(at(until), since, until)
    assert not in_range(at(since - timedelta(seconds=1)), since, None)
    assert not in_range(RawArticle(id="x"), since, until) and in_range(RawArticle(id="x"), None, None)
    with pytest.raises(ReplayError, match="timezone-aware"):
        ReplayOptions(since=datetime(2024, 3, 2))
    with pytest.raises(ReplayError, match="not before"):
        ReplayOptions(since=until, until=since)


def test_pacing_follows_event_time_divided_by_speed():
    t0 = datetime(2024, 3, 1, tzinfo=UTC)
    times = [t0, t0 + timedelta(seconds=60), None, t0 + timedelta(seconds=240)]
    assert schedule(times, 60) == [0.0, 1.0, 1.0, 4.0]
    assert schedule(times, 60, max_gap=2.0) == [0.0, 1.0, 1.0, 3.0]
    assert schedule(times, None) == [0.0, 0.0, 0.0, 0.0]
    assert parse_speed("max") is None and parse_speed("120x") == 120.0
    with pytest.raises(ReplayError):
        parse_speed("fast")


def test_a_kafka_replay_never_targets_live_topics():
    with pytest.raises(ReplayError, match="needs a topic prefix"):
        KafkaTarget(prefix="").check(live_prefix="")
    with pytest.raises(ReplayError, match="is the live topic prefix"):
        KafkaTarget(prefix="prod.").check(live_prefix="prod.")
    with pytest.raises(ReplayError, match="positive"):
        KafkaTarget(prefix="replay.", speed=0).check(live_prefix="")
    KafkaTarget(prefix="replay.", speed=10).check(live_prefix="")

