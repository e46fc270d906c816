"""Kill -9 the streaming job mid-stream and start it again, on the real broker and Prism: the alert topic
holds no duplicate (event_id, revision), no alert is missing (it equals a replay of the same input),
and no article is lost. A poisoned record on the raw topic becomes a dead letter and the job carries on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer

from pipeline.replay import run_replay
from schemas.topics import ALERTS, DEAD_LETTERS, ENRICHED, RAW, topic
from tests.platform.helpers import FIXTURE, fixture_articles, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.runner]





def _produce(bootstrap: str, name: str, values: list[bytes], keys: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for key, value in zip(keys, values):
        producer.send(name, key=key, value=value)
    producer.flush()
    producer.close()


def _read_all(bootstrap: str, name: str) -> list[dict]:
    consumer = KafkaConsumer(name, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=2000)
    try:
        return [json.loads(m.value) for m in consumer]
    finally:
        consumer.close()




class Job:
    """`nkru process` as its own process group, so kill -9 takes the Prism runner down with it."""

    def __init__(self, env: dict, log: Path):
        self.log = open(log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "nkru", "process"], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def kill9(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.log.close()

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        finally:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.log.close()


def test_kill9_and_restart_loses_nothing_and_repeats_no_alert(kafka_settings, prism_binary, tmp_path):
    articles = fixture_articles()
    expected = run_replay([FIXTURE], tmp_path / "replay")
    expected_alerts = {(a["event_id"], a["revision"]) for a in map(json.loads, (tmp_path / "replay" / "alerts.jsonl")
                                                                   .read_text().splitlines())}
    assert expected["outputs"]["alerts"] >= 3, "the fixture must raise several alerts for this test to mean much"

    prefix = kafka_settings.topic_prefix
    env = dict(os.environ, NKRU_KAFKA__BOOTSTRAP_SERVERS=kafka_settings.bootstrap_servers,
               NKRU_KAFKA__TOPIC_PREFIX=prefix, NKRU_PROCESS__GROUP_ID=f"restart-{uuid.uuid4().hex[:8]}",
               NKRU_OBSERVABILITY__PORT="0", NKRU_STATE=str(tmp_path / "state"))
    raw, alerts = topic(RAW, prefix).name, topic(ALERTS, prefix).name
    half = len(articles) // 2
    first, second = articles[:half], articles[half:]
    _produce(kafka_settings.bootstrap_servers, raw, [a.model_dump_json().encode() for a in first],
             [a.id.encode() for a in first])

    job = Job(env, tmp_path / "job.log")
    try:
        wait_for(lambda: len(_read_all(kafka_settings.bootstrap_servers, topic(ENRICHED, prefix).name)) >= half,
                  180, "the first half of the articles to be processed")
        # the second half, and a poisoned record, land while the job runs; the job dies at once
        _produce(kafka_settings.bootstrap_servers, raw,
                 [b"{not json"] + [a.model_dump_json().encode() for a in second],
                 [b"poison"] + [a.id.encode() for a in second])
    finally:
        job.kill9()

    job = Job(env, tmp_path / "job.log")
    try:
        wait_for(lambda: {(a["event_id"], a["revision"]) for a in _read_all(kafka_settings.bootstrap_servers, alerts)}
                  >= expected_alerts, 240, "every expected alert after the restart")
        # let the rebuilt job catch up completely before judging duplicates
        wait_for(lambda: any(d["stage"] == "decode" for d in
                              _read_all(kafka_settings.bootstrap_servers, topic(DEAD_LETTERS, prefix).name)),
                  60, "the poisoned record's dead letter")
    finally:
        assert job.terminate() == 0, (tmp_path / "job.log").read_text()[-3000:]

    on_topic = [(a["event_id"], a["revision"]) for a in _read_all(kafka_settings.bootstrap_servers, alerts)]
    assert len(on_topic) == len(set(on_topic)), "an (event_id, revision) was written twice"
    assert set(on_topic) == expected_alerts
    enriched_ids = {e["article"]["id"] for e in _read_all(kafka_settings.bootstrap_servers, topic(ENRICHED, prefix).name)}
    assert enriched_ids == {a.id for a in articles}
    dead = _read_all(kafka_settings.bootstrap_servers, topic(DEAD_LETTERS, prefix).name)
    assert [d["stage"] for d in dead] == ["decode"] and dead[0]["payload"] == "{not json"
    assert dead[0]["source_topic"] == raw and dead[0]["source_offset"] is not None
