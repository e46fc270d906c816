"""KafkaPublisher against real brokers: keys and headers, broker down then up with nothing lost, a full spool
counted and reported (never silent)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from connectors import kafka_broker
from connectors.kafka_io import ensure_topics, make_consumer
from connectors.publisher import KafkaPublisher
from nkru.settings import KafkaSettings
from schemas.records import DeadLetter, RawArticle
from schemas.topics import DEAD_LETTERS, RAW, topic

pytestmark = pytest.mark.kafka
FETCHED = datetime(2024, 10, 21, 12, 0, tzinfo=UTC)


def article(n: int) -> RawArticle:
    return RawArticle(id=f"https://pub.example.org/{n}", url=f"https://pub.example.org/{n}", title=f"Article {n}",
                      text="body", feed_id="pubfeed", fetched_at=FETCHED)


def consume(settings: KafkaSettings, name: str, expected: int, timeout: float = 60.0) -> list:
    consumer = make_consumer(settings, topic(name, settings.topic_prefix).name, group_id=None,
                             consumer_timeout_ms=1000)
    records, deadline = [], time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records


def test_articles_and_dead_letters_are_keyed_with_headers(kafka_settings, tmp_path):
    publisher = KafkaPublisher(kafka_settings, tmp_path / "spool", delivery_timeout=10)
    for n in range(3):
        publisher.publish(article(n), "pubfeed", FETCHED)
    publisher.publish_dead_letter(DeadLetter(stage="parse", reason="ill_formed", payload_ref="x.xml"), "pubfeed")
    assert publisher.flush() == set()
    publisher.close()
    raw = consume(kafka_settings, RAW, 3)
    assert sorted(r.key.decode() for r in raw) == [article(n).id for n in range(3)]
    headers = {k: v.decode() for k, v in raw[0].headers}
    assert headers["feed_id"] == "pubfeed" and headers["fetched_at"] == FETCHED.isoformat()
    assert headers["schema_version"] == "1" and headers["model"] == "RawArticle"
    assert RawArticle.model_validate_json(raw[0].value).feed_id == "pubfeed"
    dead = consume(kafka_settings, DEAD_LETTERS, 1)
    assert dead[0].key == b"parse" and DeadLetter.model_validate_json(dead[0].value).reason == "ill_formed"
    assert publisher.stats.sent == 4 and publisher.stats.spooled == 0


def test_broker_down_then_up_loses_nothing(private_broker, tmp_path):
    settings = KafkaSettings(bootstrap_servers=private_broker.bootstrap, topic_prefix="down.", partitions=1)
    ensure_topics(settings, [RAW, DEAD_LETTERS])
    spool = tmp_path / "spool"
    publisher = KafkaPublisher(settings, spool, delivery_timeout=3, connect_timeout=2, probe_interval=0)
    for n in range(5):
        publisher.publish(article(n), "pubfeed", FETCHED)
    assert publisher.flush() == set() and publisher.stats.sent == 5

    kafka_broker.stop(private_broker)
    for n in range(5, 25):
        publisher.publish(article(n), "pubfeed", FETCHED)
    assert publisher.flush() == set()  # kept: in the spool, not dropped
    assert publisher.stats.spooled == 20 and publisher.stats.dropped == 0 and len(publisher.spool) == 20
    publisher.close()  # the process ends while the broker is still down

    kafka_broker.start(private_broker)
    restarted = KafkaPublisher(settings, spool, delivery_timeout=10, connect_timeout=5, probe_interval=0)
    restarted.publish(article(25), "pubfeed", FETCHED)
    assert restarted.flush() == set()
    assert restarted.stats.drained >= 20 and len(restarted.spool) == 0
    restarted.close()
    keys = {r.key.decode() for r in consume(settings, RAW, 26)}
    assert keys == {article(n).id for n in range(26)}


def test_a_full_spool_drops_counts_and_reports(tmp_path, caplog):
    dead_end = KafkaSettings(bootstrap_servers="127.0.0.1:9", topic_prefix="nowhere.")
    publisher = KafkaPublisher(dead_end, tmp_path / "spool", spool_max_bytes=2000, connect_timeout=0.5,
                               probe_interval=3600)
    for n in range(10):
        publisher.publish(article(n), "pubfeed", FETCHED)
    unkept = publisher.flush()
    assert publisher.stats.spooled >= 1 and publisher.stats.dropped == 10 - publisher.stats.spooled
    assert unkept == {article(n).id for n in range(publisher.stats.spooled, 10)}
    assert "spool full" in caplog.text and not publisher.accepting
    publisher.close()


def test_poller_into_kafka_end_to_end(feed_server, kafka_settings, tmp_path):
    from connectors.feeds.poller import Poller
    from connectors.feeds.registry import FeedConfig, Registry

    feed_server.route("/feed", body=feed_server.rss([("k1", "One"), ("k2", "Two")]))
    registry = Registry(feeds=(FeedConfig(id="kfeed", url=feed_server.url("/feed"), outlet="K"),))
    publisher = KafkaPublisher(kafka_settings, tmp_path / "spool", delivery_timeout=10)
    poller = Poller(registry, tmp_path, publisher)
    assert poller.run_once().articles == 2
    poller.run_once(force=True)  # unchanged body: nothing re-emitted
    publisher.close()
    poller.close()
    records = consume(kafka_settings, RAW, 2)
    assert sorted(r.key.decode() for r in records) == ["https://fixture.example.org/k1", "https://fixture.example.org/k2"]
    assert all(dict(r.headers)["feed_id"] == b"kfeed" for r in records)
    assert len(consume(kafka_settings, RAW, 3, timeout=3)) == 2


def test_poller_refetches_what_a_full_spool_could_not_keep(feed_server, tmp_path):
    from connectors.feeds.poller import Poller
    from connectors.feeds.registry import FeedConfig, Registry

    feed_server.route("/feed", body=feed_server.rss([(f"s{i}", f"Story {i}") for i in range(6)]), etag='"e1"')
    dead_end = KafkaSettings(bootstrap_servers="127.0.0.1:9", topic_prefix="nowhere.")
    publisher = KafkaPublisher(dead_end, tmp_path / "spool", spool_max_bytes=1500, connect_timeout=0.5,
                               probe_interval=3600)
    poller = Poller(Registry(feeds=(FeedConfig(id="full", url=feed_server.url("/feed"), outlet="F"),)), tmp_path,
                    publisher)
    report = poller.run_once()
    assert report.unkept == 6 - publisher.stats.spooled and report.unkept > 0
    state = poller.store.get("full")
    assert state.etag is None and state.body_hash is None and state.last_error == "publish: not kept"
    assert poller.store.count_emitted("full") == publisher.stats.spooled
    assert poller.run_once(force=True).skipped == "publisher spool full"  # no fetching while it cannot keep
    publisher.close()
    poller.close()
