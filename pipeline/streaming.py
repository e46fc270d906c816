"""The streaming job: the raw-article topic → the graph → enriched, mention, event, alert and dead-letter topics.

Runs on Prism by default (any Beam runner through its options). Prism keeps state in memory, so a
restarted job rebuilds it by re-reading the raw topic's retained horizon (`process.restart: rebuild`);
the stages are deterministic, so it recomputes the same records, and the sinks write nothing twice:
per-article records below the group's committed frontier are skipped, and canonical events and alerts
are written at most once per (key, revision), checked against what the topics already hold.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace

import apache_beam as beam
from apache_beam.metrics import Metrics

from nkru.settings import Settings
from pipeline.graph import GraphConfig, build_graph
from pipeline.io import ReadArticlesFromKafka, parse_position, position, record_key
from pipeline.kafka_source import KafkaReadConfig, close_committers
from pipeline.runners import quiet_harness_after_cancel, runner_options
from pipeline import ledger, telemetry
from pipeline.stages import DEAD, mentions_of
from schemas.records import Alert, DeadLetter
from schemas import topics as T

log = logging.getLogger(__name__)


OUTAGE_PATIENCE_MS = 30 * 60 * 1000  # how long a sink waits through a broker outage before the job fails


class KafkaSinkFn(beam.DoFn):
    """Records → `topic`, keyed by the topic's key; durable before the bundle completes.

    Through a broker outage the sink waits (sends block, deliveries retry) for up to OUTAGE_PATIENCE_MS,
    so the job pauses and resumes instead of failing; a record that still cannot be delivered fails the
    bundle (and so the job) rather than being dropped: every send's result is checked.
    """

    def __init__(self, kafka_settings, topic):
        self.kafka_settings = kafka_settings
        self.topic = topic
        self.producer = None
        self.futures: list = []

    def setup(self):
        from connectors.kafka_io import make_producer

        self.producer = _retrying(lambda: make_producer(
            self.kafka_settings, client_id=f"nkru-sink-{self.topic.name}", max_block_ms=OUTAGE_PATIENCE_MS,
            delivery_timeout_ms=OUTAGE_PATIENCE_MS, request_timeout_ms=30_000), f"connect sink {self.topic.name}")

    def send(self, topic, record):
        from connectors.kafka_io import headers_for

        key = record_key(record, topic.key).encode("utf-8")
        self.futures.append(self.producer.send(topic.name, key=key, value=topic.encode(record),
                                               headers=headers_for(topic)))

    def process(self, record):
        self.send(self.topic, record)

    def finish_bundle(self):
        self.producer.flush()
        failed = [f.exception for f in self.futures if f.failed()]
        self.futures = []
        if failed:
            raise RuntimeError(f"{len(failed)} record(s) could not be written to {self.topic.name}: {failed[0]}")

    def teardown(self):
        if self.producer is not None:
            self.producer.close()


def _retrying(action, what: str, patience_s: float = OUTAGE_PATIENCE_MS / 1000):
    """Run `action` until it succeeds, backing off on Kafka being unreachable, for up to `patience_s`."""
    from connectors.kafka_io import KafkaUnavailable
    from kafka.errors import KafkaError

    deadline = time.monotonic() + patience_s
    delay = 0.5
    while True:
        try:
            return action()
        except (KafkaUnavailable, KafkaError, OSError) as exc:
            if time.monotonic() > deadline:
                raise
            log.warning("%s: Kafka unreachable (%s); retrying in %.1fs", what, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 15.0)


class WritePerArticleFn(KafkaSinkFn):
    """Per-article records → their topic(s), then report each raw position as finished (pipeline/ledger.py).

    Records whose raw-topic position is below the frontier (the group's committed offsets when the job
    started) were fully written by an earlier run and are skipped: a job that re-reads its retained input
    to rebuild state writes nothing twice. `extra` derives more records for other topics from one record
    (an enriched article's event mentions), so that an article's outputs are flushed together.
    """

    def __init__(self, kafka_settings, topic, frontier: dict[tuple[str, int], int], position_of,
                 extra_topic=None, extra=None):
        super().__init__(kafka_settings, topic)
        self.frontier = frontier
        self.position_of = position_of
        self.extra_topic = extra_topic
        self.extra = extra
        self.pending: list[str] = []
        self.suppressed = Metrics.counter("sink", f"{topic.name}.already_written")

    def process(self, record):
        pos = self.position_of(record)
        where = parse_position(pos)
        if where is not None and where[2] < self.frontier.get((where[0], where[1]), 0):
            self.suppressed.inc()
            telemetry.SUPPRESSED.labels(self.topic.name).inc()
            ledger.finished_position(pos)
            return
        self.send(self.topic, record)
        telemetry.WRITTEN.labels(self.topic.name).inc()
        if isinstance(record, DeadLetter):
            telemetry.DEAD_LETTERS.labels(record.stage).inc()
        if self.extra is not None:
            for derived in self.extra(record):
                self.send(self.extra_topic, derived)
                telemetry.WRITTEN.labels(self.extra_topic.name).inc()
        if pos:
            self.pending.append(pos)

    def finish_bundle(self):
        super().finish_bundle()  # flush: everything sent in this bundle is acknowledged (acks=all)
        for pos in self.pending:
            ledger.finished_position(pos)
        self.pending = []


class WriteRevisionsOnceFn(KafkaSinkFn):
    """Keyed revisions (canonical events, alerts) → `topic`, never a (key, revision) the topic already holds.

    The keys on the topic are read when the sink starts; alerts of high severity also go to `high_topic`.
    """

    def __init__(self, kafka_settings, topic, high_topic=None):
        super().__init__(kafka_settings, topic)
        self.high_topic = high_topic
        self.latest: dict[str, int] = {}
        self.sent: set[tuple[str, int]] = set()
        self.suppressed = Metrics.counter("sink", f"{topic.name}.already_written")
        self.written = Metrics.counter("sink", f"{topic.name}.written")

    def setup(self):
        super().setup()
        self.sent = _retrying(lambda: existing_revisions(self.kafka_settings, self.topic.name),
                              f"read {self.topic.name}")

    def process(self, record, timestamp=beam.DoFn.TimestampParam):
        key = (record_key(record, self.topic.key), record.revision)
        if key in self.sent:
            self.suppressed.inc()
            telemetry.SUPPRESSED.labels(self.topic.name).inc()
            return
        self.sent.add(key)
        self.send(self.topic, record)
        telemetry.WRITTEN.labels(self.topic.name).inc()
        if self.high_topic is not None and getattr(record, "severity", None) == "high":
            self.send(self.high_topic, record)
        if isinstance(record, Alert):
            telemetry.ALERTS.labels(record.kind, record.severity).inc()
            # element timestamps are the raw records' Kafka timestamps, carried through the stages
            telemetry.LATENCY.observe(max(0.0, time.time() - float(timestamp)))
        self.written.inc()


def existing_revisions(kafka_settings, topic_name: str) -> set[tuple[str, int]]:
    """(key, revision) of every record on `topic_name`, read from the beginning to the current end."""
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
                        keys.add((rec.key.decode(), int(json.loads(rec.value)["revision"])))
                    except (AttributeError, ValueError, KeyError, TypeError):
                        log.warning("unreadable record on %s at %s@%d", topic_name, tp, rec.offset)
            remaining = {tp for tp in remaining if consumer.position(tp) < end[tp]}
        return keys
    finally:
        consumer.close()


def committed_frontier(kafka_settings, group_id: str, topic_name: str) -> dict[tuple[str, int], int]:
    """The group's committed offset of each partition of `topic_name` (partitions never committed: absent)."""
    from kafka import TopicPartition

    from connectors.kafka_io import make_consumer

    consumer = make_consumer(kafka_settings, group_id=group_id, enable_auto_commit=False)
    try:
        frontier = {}
        for partition in sorted(consumer.partitions_for_topic(topic_name) or []):
            committed = consumer.committed(TopicPartition(topic_name, partition))
            if committed is not None:
                frontier[(topic_name, partition)] = committed
        return frontier
    finally:
        consumer.close()


def build_streaming_pipeline(pipeline: beam.Pipeline, settings: Settings, config: GraphConfig):
    kafka = settings.kafka
    prefix = kafka.topic_prefix
    raw = T.topic(T.RAW, prefix).name
    rebuild = settings.process.restart == "rebuild"
    frontier = committed_frontier(kafka, settings.process.group_id, raw) if rebuild else {}
    read_config = KafkaReadConfig(
        bootstrap_servers=kafka.bootstrap_servers, topics=(raw,), group_id=settings.process.group_id,
        start_at="earliest" if rebuild else settings.process.start_at, client_options=kafka.client_options(),
        commit_floor=tuple((t, p, o) for (t, p), o in sorted(frontier.items())),
        commit_mode="ledger" if settings.process.runner == "prism" else "finalize")
    if frontier:
        log.info("rebuilding state from the retained raw topic; writing only past offsets %s", frontier)
    read = pipeline | "ReadRawArticles" >> ReadArticlesFromKafka(read_config)
    config = replace(config, layout=settings.process.layout_for_runner())
    out = build_graph(read.articles, config, upstream_dead=[read[DEAD]])
    out.enriched | "WriteEnriched" >> beam.ParDo(WritePerArticleFn(
        kafka, T.topic(T.ENRICHED, prefix), frontier, _enriched_position,
        extra_topic=T.topic(T.MENTIONS, prefix), extra=mentions_of))
    out.events | "WriteEvents" >> beam.ParDo(WriteRevisionsOnceFn(kafka, T.topic(T.CANONICAL, prefix)))
    out.alerts | "WriteAlerts" >> beam.ParDo(
        WriteRevisionsOnceFn(kafka, T.topic(T.ALERTS, prefix), T.topic(T.ALERTS_HIGH, prefix)))
    out.dead_letters | "WriteDeadLetters" >> beam.ParDo(WritePerArticleFn(
        kafka, T.topic(T.DEAD_LETTERS, prefix), frontier, _dead_letter_position))
    return out


def _enriched_position(record):
    return record.article.source_position


def _dead_letter_position(record):
    if record.source_topic is not None and record.source_offset is not None:
        return position(record.source_topic, record.source_partition or 0, record.source_offset)
    return record.payload_ref


class StreamingJob:
    """A running streaming pipeline that can be stopped from another thread (signal handlers)."""

    def __init__(self, settings: Settings, config: GraphConfig | None = None, runner_args: list[str] | None = None):
        self.settings = settings
        self.config = config or GraphConfig(settings.process.ontology, settings.process.alert_rules)
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
            if self.settings.process.runner == "prism":
                quiet_harness_after_cancel()
            try:
                self.result.cancel()
            except Exception:  # noqa: BLE001 - cancelling a job that already ended is fine
                log.debug("cancel after the job ended", exc_info=True)
            _wait_for_in_process_workers(HARNESS_STOP_S)
            close_committers()


HARNESS_STOP_S = 10.0  # how long a stop waits for the in-process SDK harness to wind down after a cancel


def _wait_for_in_process_workers(timeout_s: float) -> None:
    """Wait until the SDK harness threads of the LOOPBACK environment have ended, for up to `timeout_s`.

    After a cancel the harness finishes its in-flight bundles and closes its streams to the runner; the
    runner (Prism) is stopped when this process exits, and a harness still talking to it then fails with
    gRPC tracebacks on stderr. Beam names these threads `run_worker_<worker id>` (worker_pool_main.py).
    """
    deadline = time.monotonic() + timeout_s
    workers = [t for t in threading.enumerate() if t.name.startswith("run_worker_")]
    for thread in workers:
        thread.join(max(0.0, deadline - time.monotonic()))
    alive = [t.name for t in workers if t.is_alive()]
    if alive:
        log.warning("the SDK harness did not wind down within %.0fs (%s)", timeout_s, ", ".join(alive))
