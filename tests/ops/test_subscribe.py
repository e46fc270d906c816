"""Subscribing: `nkru alerts` filters on the real broker, and the webhook sink against a real local HTTP
server (retries on 503, honours a permanent 400 by writing a dead letter to the real topic)."""

from __future__ import annotations

import io
import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kafka import KafkaConsumer, KafkaProducer

from nkru.settings import Settings
from nkru.subscribe import AlertFilter, follow_alerts
from nkru.webhook import WebhookSink, kafka_dead_letter_writer
from schemas.records import Alert
from schemas.topics import ALERTS, DEAD_LETTERS, topic


def _alert(n: int, severity: str, event_type: str, actors: list[str], when: str) -> Alert:
    return Alert(alert_id=f"a{n}", event_id=f"e{n}", revision=1, kind="new", severity=severity,
                 event_type=event_type, summary=f"alert number {n}", actors=actors,
                 event_time=datetime.fromisoformat(when).replace(tzinfo=timezone.utc), ontology_version="t")


ALERT_SET = [
    _alert(1, "high", "troop_deployment", ["PRK", "RUS"], "2024-10-18"),
    _alert(2, "low", "economic_cooperation", ["PRK", "RUS"], "2025-04-30"),
    _alert(3, "medium", "casualties", ["PRK", "UKR"], "2025-01-13"),
    _alert(4, "high", "official_denial", ["RUS"], "2024-10-21"),
]


@pytest.fixture
def alerts_on_topic(kafka_settings):
    producer = KafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers, acks="all")
    name = topic(ALERTS, kafka_settings.topic_prefix).name
    for alert in ALERT_SET:
        producer.send(name, key=alert.event_id.encode(), value=alert.model_dump_json().encode())
    producer.flush()
    producer.close()
    return Settings(kafka=kafka_settings)


@pytest.mark.kafka
@pytest.mark.parametrize("filt,expected", [
    (AlertFilter(), ["a1", "a2", "a3", "a4"]),
    (AlertFilter.build(severity="high"), ["a1", "a4"]),
    (AlertFilter.build(severity="medium", types=["casualties"]), ["a3"]),
    (AlertFilter.build(actors=["ukr"]), ["a3"]),
    (AlertFilter.build(since="2025-01-01"), ["a2", "a3"]),
])
def test_filters(alerts_on_topic, filt, expected):
    out = io.StringIO()
    printed = follow_alerts(alerts_on_topic, filt, from_beginning=True, as_json=True, idle_timeout=5, out=out,
                            max_alerts=len(expected))
    ids = [json.loads(line)["alert_id"] for line in out.getvalue().splitlines()]
    assert sorted(ids) == expected and printed == len(expected)  # partitions interleave freely


@pytest.mark.kafka
def test_readable_lines_name_severity_kind_and_summary(alerts_on_topic):
    out = io.StringIO()
    follow_alerts(alerts_on_topic, AlertFilter.build(severity="high"), from_beginning=True, out=out, max_alerts=1,
                  idle_timeout=5)
    line = out.getvalue().strip()
    assert line.startswith("[HIGH") and "troop_deployment" in line and "alert number 1" in line


class _Hook(BaseHTTPRequestHandler):
    received: list = []
    plan: dict = {}

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status = self.plan[body["alert_id"]].pop(0)
        self.received.append((body["alert_id"], status, self.headers["Content-Type"]))
        self.send_response(status)
        if status == 503:
            self.send_header("Retry-After", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.kafka
def test_webhook_retries_then_dead_letters_a_permanent_failure(kafka_settings):
    _Hook.received, _Hook.plan = [], {"a1": [503, 200], "a2": [400]}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    writer = kafka_dead_letter_writer(kafka_settings)
    try:
        sink = WebhookSink(f"http://127.0.0.1:{server.server_address[1]}/hook", backoff=0.01, dead_letter=writer)
        first, second = sink.deliver(ALERT_SET[0]), sink.deliver(ALERT_SET[1])
    finally:
        server.shutdown()
        writer.close()
    assert first.ok and first.attempts == 2
    assert not second.ok and second.attempts == 1 and second.status == 400
    assert [r[:2] for r in _Hook.received] == [("a1", 503), ("a1", 200), ("a2", 400)]
    assert all(r[2] == "application/json" for r in _Hook.received)
    consumer = KafkaConsumer(topic(DEAD_LETTERS, kafka_settings.topic_prefix).name,
                             bootstrap_servers=kafka_settings.bootstrap_servers, auto_offset_reset="earliest",
                             consumer_timeout_ms=5000)
    dead = [json.loads(m.value) for m in consumer]
    consumer.close()
    assert len(dead) == 1 and dead[0]["stage"] == "webhook" and json.loads(dead[0]["payload"])["alert_id"] == "a2"


def test_webhook_rejects_a_non_http_url():
    with pytest.raises(ValueError, match="http"):
        WebhookSink("file:///etc/passwd")
