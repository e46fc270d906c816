"""`nkru replay --to-kafka` against the real broker: RawArticle records on the replay prefix's raw topic (never
the live one), in event-time order, paced at N× real time, dead letters on the replay's dead-letter topic."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from pipeline.replay import ReplayOptions
from pipeline.replay_kafka import KafkaTarget, run_replay_to_kafka
from schemas.records import RawArticle, parse_timestamp
from schemas.topics import DEAD_LETTERS, RAW, topic

pytestmark = [pytest.mark.kafka, pytest.mark.runner]

T0 = datetime(2024, 3, 1, 6, 0, tzinfo=UTC)
OFFSETS = [0, 30, 90, 150]  # event-time seconds after T0; at 60× real time: due 0, 0.5, 1.5, 2.5 s


def _write_articles(path: Path) -> list[str]:
    ids = [f"https://pace.example.org/{i}" for i in range(len(OFFSETS))]
    rows = [{"id": ids[i], "title": f"item {i}", "text": "North Korea and Russia", "published":
             (T0 + timedelta(seconds=OFFSETS[i])).isoformat()} for i in range(len(OFFSETS))]
    lines = [json.dumps(r) for r in reversed(rows)] + ['{"id": broken']  # out of order, one bad line
    path.write_text("\n".join(lines) + "\n")
    return ids


def _consume(bootstrap: str, name: str, want: int, deadline_s: float = 60.0) -> list:
    consumer = KafkaConsumer(name, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=1000)
    records, deadline = [], time.monotonic() + deadline_s
    try:
        while len(records) < want and time.monotonic() < deadline:
            records.extend(consumer)
    finally:
        consumer.close()
    return records


def _end_offsets(bootstrap: str, name: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        parts = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or ()]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


def test_rehearsal_publishes_in_event_time_order_paced_by_speed(kafka_settings, prism_binary, tmp_path):
    ids = _write_articles(tmp_path / "articles.jsonl")
    prefix = kafka_settings.topic_prefix + "replay."
    summary = run_replay_to_kafka([tmp_path / "articles.jsonl"], kafka_settings, KafkaTarget(prefix=prefix, speed=60),
                                  options=ReplayOptions(progress=False), out_dir=tmp_path / "out")
    raw = topic(RAW, prefix).name
    assert summary["kafka"]["topic"] == raw and summary["kafka"]["acknowledged"] == len(ids) + 1
    assert json.loads((tmp_path / "out" / "summary.json").read_text()) == summary

    records = sorted(_consume(kafka_settings.bootstrap_servers, raw, len(ids)), key=lambda r: r.timestamp)
    assert [r.key.decode() for r in records] == ids  # publish order is event-time order
    articles = [RawArticle.model_validate_json(r.value) for r in records]
    assert [a.published for a in articles] == [T0 + timedelta(seconds=s) for s in OFFSETS]
    headers = dict(records[2].headers)
    assert headers["model"] == b"RawArticle" and parse_timestamp(headers["event_time"].decode()) == articles[2].published
    sent_at = [(r.timestamp - records[0].timestamp) / 1000 for r in records]
    for got, due in zip(sent_at, [s / 60 for s in OFFSETS]):
        assert due - 0.05 <= got < due + 10, (sent_at, OFFSETS)

    dead = _consume(kafka_settings.bootstrap_servers, topic(DEAD_LETTERS, prefix).name, 1)
    assert [(d.key, json.loads(d.value)["stage"]) for d in dead] == [(b"decode", "decode")]
    # the live topics of this test's prefix got nothing
    assert _end_offsets(kafka_settings.bootstrap_servers, topic(RAW, kafka_settings.topic_prefix).name) == 0


def test_the_live_prefix_is_refused_before_anything_is_read(kafka_settings, tmp_path):
    from pipeline.replay import ReplayError

    with pytest.raises(ReplayError, match="live topic prefix"):
        run_replay_to_kafka([tmp_path / "nothing-read.jsonl"], kafka_settings,
                            KafkaTarget(prefix=kafka_settings.topic_prefix))
