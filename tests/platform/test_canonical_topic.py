"""An event's latest state grows with its mentions: a large one still goes through the canonical topic of the
real broker (producer and topic allow 8 MB; Kafka's defaults stop at 1 MB)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.kafka_io import MAX_RECORD_BYTES, make_consumer, make_producer
from schemas.records import CanonicalEvent, Evidence, MentionRef, Quantity
from schemas.topics import CANONICAL, topic

pytestmark = pytest.mark.kafka


def big_event(n: int) -> CanonicalEvent:
    start = datetime(2025, 1, 6, tzinfo=UTC)
    refs = [MentionRef(article_id=f"https://outlet{i % 50}.example/2025/01/report-{i:05d}",
                       url=f"https://outlet{i % 50}.example/2025/01/report-{i:05d}", outlet=f"outlet{i % 50}",
                       published=start + timedelta(minutes=i), modality="claimed", source_of_claim="NIS",
                       quantities={"troops": Quantity(low=10_000 + i, high=12_000 + i)},
                       evidence=Evidence(text=f"Report {i}: about {10_000 + i:,} troops were moved, the agency said "
                                              "in a briefing to lawmakers on the deployment near the front line.",
                                         start=0, end=120))
            for i in range(n)]
    return CanonicalEvent(event_id="big", type="troop_deployment", revision=n, first_seen=start,
                          last_seen=refs[-1].published, modality="claimed", mentions=refs, independent_sources=n,
                          ontology_version="t")


def test_a_latest_state_over_a_megabyte_is_written_and_read_back(kafka_settings):
    event = big_event(6_000)
    canonical = topic(CANONICAL, kafka_settings.topic_prefix)
    payload = canonical.encode(event)
    assert 2_000_000 < len(payload) < MAX_RECORD_BYTES, len(payload)
    producer = make_producer(kafka_settings)
    try:
        producer.send(canonical.name, key=b"big", value=payload).get(timeout=30)
    finally:
        producer.close()
    consumer = make_consumer(kafka_settings, canonical.name, consumer_timeout_ms=20_000)
    try:
        got = [r.value for r in consumer]
    finally:
        consumer.close()
    assert len(got) == 1 and canonical.decode(got[0]) == event


def _size_limit(settings, name: str) -> int:
    from kafka.admin import ConfigResource, ConfigResourceType

    from connectors.kafka_io import make_admin

    admin = make_admin(settings)
    try:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name,
                                                           configs={"max.message.bytes": None})], config_filter="all")
    finally:
        admin.close()
    return int(described["topic"][name]["max.message.bytes"]["value"])


def _lower_limit(settings, name: str) -> None:
    from kafka.admin import ConfigResource, ConfigResourceType

    from connectors.kafka_io import make_admin

    admin = make_admin(settings)
    try:
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, configs={"max.message.bytes": "1048588"})])
    finally:
        admin.close()


def test_a_canonical_topic_made_with_the_old_limit_is_raised_when_nkru_manages_topics(kafka_settings, caplog):
    """Topics created before the 8 MB limit keep Kafka's 1 MB: `ensure_topics` raises it (create_topics=true)."""
    from connectors.kafka_io import ensure_topics

    name = topic(CANONICAL, kafka_settings.topic_prefix).name
    _lower_limit(kafka_settings, name)
    assert _size_limit(kafka_settings, name) == 1048588
    with caplog.at_level("INFO", logger="connectors.kafka_io"):
        assert ensure_topics(kafka_settings) == []
    assert _size_limit(kafka_settings, name) == MAX_RECORD_BYTES
    assert any("raised max.message.bytes" in r.getMessage() and name in r.getMessage() for r in caplog.records)


def test_a_topic_too_small_is_named_with_the_fix_when_nkru_may_not_change_topics(kafka_settings, caplog):
    from connectors.kafka_io import ensure_topics

    name = topic(CANONICAL, kafka_settings.topic_prefix).name
    _lower_limit(kafka_settings, name)
    managed_elsewhere = kafka_settings.model_copy(update={"create_topics": False})
    with caplog.at_level("WARNING", logger="connectors.kafka_io"):
        ensure_topics(managed_elsewhere)
    assert _size_limit(kafka_settings, name) == 1048588  # left alone
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and name in r.getMessage()]
    assert len(warned) == 1 and f"--entity-name {name} --add-config max.message.bytes={MAX_RECORD_BYTES}" in warned[0]
