"""The streaming job: the raw-article topic → the graph → enriched, mention, event, alert and dead-letter topics.

Runs on Prism by default (any Beam runner through its options). Alerts are written at most once per
(event_id, revision): the alert sink loads the keys already on the alert topic when it starts, so a
restarted job that re-reads its input does not repeat alerts.
"""

from __future__ import annotations

import logging
import threading

import apache_beam as beam
from apache_beam.metrics import Metrics

from nkru.settings import Settings
from pipeline.graph import GraphConfig, build_graph
from pipeline.io import ReadArticlesFromKafka, WriteToKafkaFn
from pipeline.kafka_source import KafkaReadConfig
from pipeline.runners import runner_options
from pipeline.stages import DEAD
from schemas import topics as T

log = logging.getLogger(__name__)


class WriteAlertsOnceFn(WriteToKafkaFn):
    """Alerts → the alert topics, skipping (event_id, revision) pairs the topic already holds."""

    def __init__(self, kafka_settings, topic, high_topic):
        super().__init__(kafka_settings, topic)
        self.high_topic = high_topic
        self.sent: set[tuple[str, int]] = set()
        self.suppressed = Metrics.counter("alerts", "already_on_topic")
        self.written = Metrics.counter("alerts", "written")

    def setup(self):
        super().setup()
        self.sent = existing_alert_keys(self.kafka_settings, self.topic.name)

    def process(self, alert):
        key = (alert.event_id, alert.revision)
        if key in self.sent:
            self.suppressed.inc()
            return
        self.sent.add(key)
        super().process(alert)
        if alert.severity == "high":
            from connectors.kafka_io import headers_for

            self.producer.send(self.high_topic.name, key=alert.event_id.encode(), value=self.high_topic.encode(alert),
                               headers=headers_for(self.high_topic))
        self.written.inc()


def existing_alert_keys(kafka_settings, topic_name: str) -> set[tuple[str, int]]:
    """(event_id, revision) of every alert on `topic_name`, read from the beginning to the current end."""
    import json

    from kafka import TopicPartition

    from connectors.kafka_io import make_consumer

    consumer = make_consumer(kafka_settings, group_id=None, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic_name, p) for p in sorted(consumer.partitions_for_topic(topic_name) or [])]
        if not partitions:
            return set()
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        keys: set[tuple[str, int]] = set()
        remaining = {tp for tp in partitions if end[tp] > 0}
        while remaining:
            for tp, records in consumer.poll(timeout_ms=500).items():
                for rec in records:
                    try:
                        row = json.loads(rec.value)
                        keys.add((row["event_id"], int(row["revision"])))
                    except (ValueError, KeyError, TypeError):
                        log.warning("unreadable record on %s at %s@%d", topic_name, tp, rec.offset)
            remaining = {tp for tp in remaining if consumer.position(tp) < end[tp]}
        return keys
    finally:
        consumer.close()


def build_streaming_pipeline(pipeline: beam.Pipeline, settings: Settings, config: GraphConfig):
    kafka = settings.kafka
    prefix = kafka.topic_prefix
    read_config = KafkaReadConfig(
        bootstrap_servers=kafka.bootstrap_servers, topics=(T.topic(T.RAW, prefix).name,),
        group_id=settings.process.group_id, start_at=settings.process.start_at,
        client_options=kafka.client_options())
    read = pipeline | "ReadRawArticles" >> ReadArticlesFromKafka(read_config)
    out = build_graph(read.articles, config, upstream_dead=[read[DEAD]])
    out.enriched | "WriteEnriched" >> beam.ParDo(WriteToKafkaFn(kafka, T.topic(T.ENRICHED, prefix)))
    out.mentions | "WriteMentions" >> beam.ParDo(WriteToKafkaFn(kafka, T.topic(T.MENTIONS, prefix)))
    out.events | "WriteEvents" >> beam.ParDo(WriteToKafkaFn(kafka, T.topic(T.CANONICAL, prefix)))
    out.alerts | "WriteAlerts" >> beam.ParDo(
        WriteAlertsOnceFn(kafka, T.topic(T.ALERTS, prefix), T.topic(T.ALERTS_HIGH, prefix)))
    out.dead_letters | "WriteDeadLetters" >> beam.ParDo(WriteToKafkaFn(kafka, T.topic(T.DEAD_LETTERS, prefix)))
    return out


class StreamingJob:
    """A running streaming pipeline that can be stopped from another thread (signal handlers)."""

    def __init__(self, settings: Settings, config: GraphConfig | None = None, runner_args: list[str] | None = None):
        self.settings = settings
        self.config = config or GraphConfig()
        self.runner_args = runner_args or []
        self.result = None
        self.stopped = threading.Event()
        self.ended_by_itself = False

    def start(self):
        from connectors.kafka_io import ensure_topics

        ensure_topics(self.settings.kafka)
        options = runner_options(self.settings.process.runner, streaming=True, extra=self.runner_args)
        pipeline = beam.Pipeline(options=options)
        build_streaming_pipeline(pipeline, self.settings, self.config)
        self.result = pipeline.run()
        return self

    def wait(self):
        """Block until the job ends (it ends when `stop` is called or the runner fails)."""
        return self.result.wait_until_finish()

    def stop(self):
        if self.result is not None and not self.stopped.is_set():
            self.stopped.set()
            try:
                self.result.cancel()
            except Exception:  # noqa: BLE001 - cancelling a job that already ended is fine
                log.debug("cancel after the job ended", exc_info=True)
