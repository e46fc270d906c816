"""The walking skeleton, end to end, on the real broker and the real streaming runner:
a feed on a local HTTP server → connector → raw-article topic → the Beam streaming job (Prism) →
alert topic → `nkru alerts` prints the alert, and a plain kafka-python consumer reads the same message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
from kafka import KafkaConsumer

from nkru.sample import serve_sample
from nkru.settings import ProcessSettings, Settings
from pipeline.streaming import StreamingJob
from schemas.topics import ALERTS, topic

pytestmark = [pytest.mark.kafka, pytest.mark.runner]


def test_feed_to_alert(kafka_settings, prism_binary, tmp_path):
    from connectors.feeds.poller import Poller
    from connectors.feeds.registry import FeedConfig, Registry
    from connectors.publisher import KafkaPublisher

    settings = Settings(kafka=kafka_settings, state_dir=tmp_path,
                        process=ProcessSettings(group_id=f"e2e-{uuid.uuid4().hex[:8]}", start_at="earliest"))
    server, base = serve_sample()
    alerts_topic = topic(ALERTS, kafka_settings.topic_prefix).name
    job = StreamingJob(settings).start()
    try:
        # the subscriber starts first, from the beginning of the alert topic, and waits for one alert
        env = dict(os.environ, NKRU_KAFKA__BOOTSTRAP_SERVERS=kafka_settings.bootstrap_servers,
                   NKRU_KAFKA__TOPIC_PREFIX=kafka_settings.topic_prefix)
        subscriber = subprocess.Popen(
            [sys.executable, "-m", "nkru", "alerts", "--from-beginning", "--json", "--max", "1", "--timeout", "240"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        registry = Registry(feeds=(FeedConfig(id="wire", url=f"{base}/world-wire.xml", outlet="Sample World Wire",
                                              language="en"),))
        publisher = KafkaPublisher.from_settings(settings)
        try:
            Poller(registry, settings, publisher).run_once()
            publisher.flush()
        finally:
            publisher.close()
        out, err = subscriber.communicate(timeout=300)
    finally:
        job.stop()
        server.shutdown()
    assert subscriber.returncode == 0, err
    printed = json.loads(out.strip().splitlines()[0])
    assert printed["event_id"] and printed["links"][0].startswith("https://wire.example.org/")

    consumer = KafkaConsumer(alerts_topic, bootstrap_servers=kafka_settings.bootstrap_servers,
                             auto_offset_reset="earliest", consumer_timeout_ms=2_000)
    plain: list[dict] = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and not (
                printed["alert_id"] in {a["alert_id"] for a in plain}
                and any(a["kind"] == "new" and a["event_type"] == "troop_deployment" for a in plain)):
            plain.extend(json.loads(m.value) for m in consumer)
    finally:
        consumer.close()
    # a plain kafka-python consumer reads the very alert `nkru alerts` printed
    assert printed["alert_id"] in {a["alert_id"] for a in plain}
    # the feed's troop deployment is announced as a new event
    assert any(a["kind"] == "new" and a["event_type"] == "troop_deployment" for a in plain)
    # no alert was raised for the feed's unrelated items
    assert all("Norway" not in a["summary"] and "Oil" not in a["summary"] for a in plain)
