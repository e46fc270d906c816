"""Stop the broker under a running streaming job and start it again: the job waits, resumes, and every
article produced before and after the outage is processed (real broker of the test's own, real Prism)."""

from __future__ import annotations

import json
import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer

from connectors import kafka_broker
from connectors.kafka_io import ensure_topics
from nkru.settings import KafkaSettings, ObservabilitySettings, ProcessSettings, Settings
from pipeline.streaming import StreamingJob
from schemas.topics import ENRICHED, RAW, topic
from tests.platform.helpers import fixture_articles, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.runner]





def _produce(bootstrap, name, articles):
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for a in articles:
        producer.send(name, key=a.id.encode(), value=a.model_dump_json().encode())
    producer.flush()
    producer.close()


def _enriched_ids(bootstrap, name) -> set[str]:
    consumer = KafkaConsumer(name, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=1500)
    try:
        return {json.loads(m.value)["article"]["id"] for m in consumer}
    finally:
        consumer.close()




def test_job_waits_through_a_broker_outage(private_broker, prism_binary, tmp_path):
    kafka = KafkaSettings(bootstrap_servers=private_broker.bootstrap, topic_prefix=f"o{uuid.uuid4().hex[:6]}.")
    ensure_topics(kafka)
    settings = Settings(kafka=kafka, state_dir=tmp_path, observability=ObservabilitySettings(enabled=False),
                        process=ProcessSettings(group_id="outage"))
    raw, enriched = topic(RAW, kafka.topic_prefix).name, topic(ENRICHED, kafka.topic_prefix).name
    articles = fixture_articles()
    before, after = articles[:4], articles[4:]
    job = StreamingJob(settings).start()
    try:
        _produce(kafka.bootstrap_servers, raw, before)
        wait_for(lambda: _enriched_ids(kafka.bootstrap_servers, enriched) >= {a.id for a in before}, 120,
                  "the articles produced before the outage")
        kafka_broker.stop(private_broker)
        assert not kafka_broker.answers(private_broker)
        kafka_broker.start(private_broker)
        _produce(kafka.bootstrap_servers, raw, after)
        wait_for(lambda: _enriched_ids(kafka.bootstrap_servers, enriched) >= {a.id for a in articles}, 240,
                  "the articles produced after the outage")
        assert not job.ended_by_itself
    finally:
        job.stop()
