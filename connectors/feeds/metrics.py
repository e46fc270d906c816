"""Prometheus metrics of the feed connectors (fetches, entries, articles, dead letters, full text, publisher)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, start_http_server

FETCHES = Counter("nkru_feed_fetches", "Feed fetches by outcome (ok, not_modified, unchanged, http_<code>, "
                  "timeout, connect, too_large, redirect_loop, …)", ["outcome"])
FETCH_SECONDS = Histogram("nkru_feed_fetch_seconds", "Duration of one feed fetch, redirects included",
                          buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60))
ENTRIES = Counter("nkru_feed_entries", "Entries seen in parsed feed documents")
ARTICLES = Counter("nkru_feed_articles", "Articles by outcome (emitted, already_emitted, duplicate, unkept)",
                   ["outcome"])
DEAD_LETTERS = Counter("nkru_feed_dead_letters", "Dead letters by stage and reason", ["stage", "reason"])
FULLTEXT = Counter("nkru_feed_fulltext", "Full-text fetches by outcome (extracted, cached, failed) and reason",
                   ["outcome", "reason"])
REDIRECTS = Counter("nkru_feed_url_moves", "Feeds whose stored URL moved after a permanent redirect")
ROUND_SECONDS = Histogram("nkru_feed_poll_round_seconds", "Duration of one poll round",
                          buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800))
FEEDS_DUE = Gauge("nkru_feeds_polled_last_round", "Feeds polled in the last round")
ERROR_STREAK = Gauge("nkru_feed_error_streak", "Consecutive failed polls of a feed", ["feed"])
LAST_SUCCESS = Gauge("nkru_feed_last_success_timestamp_seconds", "Last successful poll of a feed", ["feed"])
SPOOL_BYTES = Gauge("nkru_publisher_spool_bytes", "Bytes waiting in the publisher's on-disk spool")
PUBLISHED = Counter("nkru_publisher_records", "Records by outcome (sent, spooled, drained, dropped)", ["outcome"])

_last_publisher: dict[tuple[int, str], int] = {}


def record_publisher(stats: object) -> None:
    """Mirror a publisher's cumulative stats (sent, spooled, drained, dropped) into counters."""
    for name in ("sent", "spooled", "drained", "dropped"):
        value = int(getattr(stats, name, 0))
        delta = value - _last_publisher.get((id(stats), name), 0)
        if delta > 0:
            PUBLISHED.labels(name).inc(delta)
        _last_publisher[(id(stats), name)] = value


def serve(port: int, addr: str = "127.0.0.1", registry: CollectorRegistry = REGISTRY) -> None:
    """Expose /metrics over HTTP (a daemon thread)."""
    start_http_server(port, addr=addr, registry=registry)
