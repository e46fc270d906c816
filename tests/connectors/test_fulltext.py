"""Full text from article pages: extraction quality floor on our fixture, per-host rate limit, cache, and a
failure that keeps the summary and is counted."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

from prometheus_client import REGISTRY

from connectors.feeds.fulltext import FullTextFetcher, extract_main_text
from connectors.feeds.http import HttpPolicy
from connectors.feeds.poller import Poller, PollerOptions
from connectors.feeds.registry import FeedConfig, Registry
from connectors.feeds.sinks import MemoryPublisher
from schemas.records import RawArticle

PAGE = (Path(__file__).resolve().parent.parent / "fixtures" / "feeds" / "article_page.html").read_bytes()
MAIN = ["deployment of several thousand soldiers", "mutual defence treaty", "Satellite imagery",
        "expected further rotations"]
BOILERPLATE = ["premium newsletter", "Celebrity wedding", "All rights reserved", "trackVisitor", "Subscribe"]
POLICY = HttpPolicy(connect_timeout=1, read_timeout=1, total_timeout=3)


def test_extraction_quality_floor_on_fixture_page():
    text = extract_main_text(PAGE, "https://news.example.org/analysis")
    recall = sum(phrase in text for phrase in MAIN) / len(MAIN)
    noise = sum(phrase in text for phrase in BOILERPLATE)
    assert recall >= 0.75 and noise == 0, text  # floor: raise it when extraction improves, never lower it


def test_fetch_extract_cache_and_rate_limit(feed_server, tmp_path):
    for i in range(3):
        feed_server.route(f"/article{i}", body=PAGE, content_type="text/html; charset=utf-8")
    fetcher = FullTextFetcher(tmp_path / "cache", policy=POLICY, min_interval=0.3, max_wait=5)
    articles = [RawArticle(id=f"a{i}", url=feed_server.url(f"/article{i}"), text="Short summary.") for i in range(3)]
    results = [fetcher.enrich(a) for a in articles]
    assert [r.outcome for r in results] == ["extracted"] * 3
    assert "mutual defence treaty" in results[0].article.text
    times = sorted(feed_server.hits(f"/article{i}")[0].at for i in range(3))
    assert all(b - a >= 0.25 for a, b in pairwise(times))  # one request per 0.3 s on this host
    again = fetcher.enrich(articles[0])
    assert again.outcome == "cached" and len(feed_server.hits("/article0")) == 1


def test_failure_keeps_the_summary_and_is_counted(feed_server, tmp_path):
    feed_server.route("/feed", body=(
        '<rss version="2.0"><channel><title>T</title>'
        f'<item><title>Gone</title><link>{feed_server.url("/missing")}</link>'
        "<description>Summary kept.</description></item>"
        f'<item><title>Good</title><link>{feed_server.url("/page")}</link><description>Short.</description></item>'
        "</channel></rss>").encode())
    feed_server.route("/page", body=PAGE, content_type="text/html")
    before = REGISTRY.get_sample_value("nkru_feed_fulltext_total", {"outcome": "failed", "reason": "http_404"}) or 0
    feed = FeedConfig(id="ft", url=feed_server.url("/feed"), outlet="FT", fulltext=True)
    publisher = MemoryPublisher()
    poller = Poller(Registry(feeds=(feed,)), tmp_path, publisher,
                    options=PollerOptions(http=POLICY),
                    fulltext=FullTextFetcher(tmp_path / "cache", policy=POLICY, min_interval=0))
    poller.run_once()
    texts = {a.title: a.text for a in publisher.articles}
    assert texts["Gone"] == "Summary kept." and re.search("Satellite imagery", texts["Good"])
    after = REGISTRY.get_sample_value("nkru_feed_fulltext_total", {"outcome": "failed", "reason": "http_404"})
    assert after == before + 1
