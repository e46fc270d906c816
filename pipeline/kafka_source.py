"""Unbounded Kafka source for Beam written on kafka-python: topic partitions → timestamped KafkaRecord elements.

A splittable DoFn with one restriction per topic-partition (an open-ended offset range starting at the
group's committed offset), offsets claimed one at a time, a watermark from record timestamps that moves
on to wall-clock time once a partition is caught up, and consumer offsets committed by bundle
finalization, i.e. only after the runner has persisted the bundle's output.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator, NamedTuple

import apache_beam as beam
from apache_beam.io.iobase import RestrictionProgress
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.transforms.core import RestrictionProvider
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Duration, Timestamp
from kafka.errors import KafkaError

from pipeline import ledger

log = logging.getLogger(__name__)

END_OF_TIME = sys.maxsize
OUTAGE_RETRY_MS = 2_000


class KafkaRecord(NamedTuple):
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class KafkaReadConfig:
    """What to read and how; picklable, so it travels to every worker."""

    bootstrap_servers: str
    topics: tuple[str, ...]
    group_id: str
    start_at: str = "committed"  # committed (falling back to earliest), earliest, latest
    stop_at_end: bool = False  # bounded read: stop each partition at the end offset seen at start
    poll_timeout_ms: int = 200
    idle_resume_ms: int = 100
    max_records_per_bundle: int = 500
    idle_watermark_lag_ms: int = 200  # safe: the raw topic uses LogAppendTime (see schemas/topics.py)
    client_options: dict = field(default_factory=dict)  # security settings etc., passed to kafka-python
    # (topic, partition) → offset below which commits never go (the group's frontier when the job started):
    # a job that re-reads its retained input to rebuild state does not move its committed offsets back.
    commit_floor: tuple[tuple[str, int, int], ...] = ()
    # finalize: commit what a bundle claimed once the runner finalizes it (runners that checkpoint state);
    # ledger: commit only offsets the sinks reported as written (pipeline/ledger.py; in-process runners)
    commit_mode: str = "finalize"

    def floor(self, topic: str, partition: int) -> int:
        return next((o for t, p, o in self.commit_floor if t == topic and p == partition), 0)

    def consumer(self, **extra):
        from kafka import KafkaConsumer

        from connectors.kafka_io import guard_client_options

        opts = dict(bootstrap_servers=self.bootstrap_servers, group_id=self.group_id,
                    enable_auto_commit=False, auto_offset_reset="earliest",
                    client_id=f"nkru-source-{self.group_id}")
        opts.update(self.client_options)
        opts.update(extra)
        guard_client_options(opts)  # kafka-python's DEBUG login lines must not show a PLAIN password (workers too)
        return KafkaConsumer(**opts)


class OpenOffsetTracker(OffsetRestrictionTracker):
    """An offset tracker whose range may be open-ended; such a range is unbounded to the runner."""

    def is_bounded(self):
        return self.current_restriction().stop != END_OF_TIME

    def try_split(self, fraction_of_remainder):
        # A partition is read in order by one reader: only checkpoints (fraction 0, the runner asking
        # the reader to stop here and resume later) are accepted, never a split of the remaining range.
        if fraction_of_remainder != 0:
            return None
        return super().try_split(0)

    def current_progress(self) -> RestrictionProgress:
        rng = self.current_restriction()
        if rng.stop != END_OF_TIME:
            return super().current_progress()
        # an open-ended range has no meaningful fraction; report none done, which never yields a NaN
        return RestrictionProgress(fraction=0.0)


class PartitionSpec(NamedTuple):
    """The SDF's element: one topic-partition and how to read it."""

    topic: str
    partition: int
    config: KafkaReadConfig


class PartitionRestrictionProvider(RestrictionProvider):
    """One restriction per topic-partition, from the group's committed offset (or earliest/latest)."""

    def initial_restriction(self, element: PartitionSpec) -> OffsetRange:
        from kafka import TopicPartition

        config = element.config
        tp = TopicPartition(element.topic, element.partition)
        consumer = config.consumer()
        try:
            beginning = consumer.beginning_offsets([tp])[tp]
            end = consumer.end_offsets([tp])[tp]
            start = beginning
            if config.start_at == "latest":
                start = end
            elif config.start_at == "committed":
                committed = consumer.committed(tp)
                start = beginning if committed is None else max(committed, beginning)
        finally:
            consumer.close()
        stop = end if config.stop_at_end else END_OF_TIME
        return OffsetRange(start, max(start, stop))

    def create_tracker(self, restriction: OffsetRange) -> OpenOffsetTracker:
        return OpenOffsetTracker(restriction)

    def split(self, element, restriction):
        yield restriction  # a partition is read in order by one reader

    def restriction_size(self, element, restriction: OffsetRange) -> float:
        if restriction.stop == END_OF_TIME:
            return 1.0
        return float(restriction.size())

    def truncate(self, element, restriction: OffsetRange):
        # draining: the open-ended part of the restriction is dropped, nothing more is read
        if restriction.stop == END_OF_TIME:
            return None
        return restriction


class ListPartitionsFn(beam.DoFn):
    """Topic name → (topic, partition) for each of its partitions."""

    def __init__(self, config: KafkaReadConfig):
        self.config = config

    def process(self, topic: str) -> Iterator[PartitionSpec]:
        consumer = self.config.consumer()
        try:
            deadline = time.monotonic() + 30
            partitions = consumer.partitions_for_topic(topic)
            while not partitions and time.monotonic() < deadline:
                time.sleep(0.5)
                partitions = consumer.partitions_for_topic(topic)
        finally:
            consumer.close()
        if not partitions:
            raise RuntimeError(f"topic {topic!r} does not exist on {self.config.bootstrap_servers}")
        for partition in sorted(partitions):
            yield PartitionSpec(topic, partition, self.config)


class ReadPartitionFn(beam.DoFn):
    """PartitionSpec → KafkaRecord elements, timestamped with the record's timestamp."""

    def __init__(self):
        self._consumers: dict = {}

    def teardown(self):
        # On cancel the harness tears down while a bundle may still be in `process` (adding or dropping a
        # consumer): close a snapshot, never iterate the live dict.
        consumers, self._consumers = self._consumers, {}
        for consumer in list(consumers.values()):
            consumer.close()

    def _consumer_for(self, tp, config: KafkaReadConfig):
        consumer = self._consumers.get(tp)
        if consumer is None:
            consumer = config.consumer(max_poll_records=config.max_records_per_bundle)
            consumer.assign([tp])
            self._consumers[tp] = consumer
        return consumer

    @beam.DoFn.unbounded_per_element()
    def process(
        self,
        element: PartitionSpec,
        # Beam fills special parameters positionally up to the first restriction/watermark parameter:
        # the finalizer must come before them.
        finalizer=beam.DoFn.BundleFinalizerParam,
        tracker=beam.DoFn.RestrictionParam(PartitionRestrictionProvider()),
        watermark=beam.DoFn.WatermarkEstimatorParam(ManualWatermarkEstimator.default_provider()),
    ) -> Iterator[TimestampedValue]:
        from kafka import TopicPartition

        config = element.config
        tp = TopicPartition(element.topic, element.partition)
        rng = tracker.current_restriction()
        try:
            consumer = self._consumer_for(tp, config)
            if consumer.position(tp) != rng.start:
                consumer.seek(tp, rng.start)
            batch = consumer.poll(timeout_ms=config.poll_timeout_ms).get(tp, [])
        except KafkaError as exc:
            # the broker is unreachable: claim nothing, keep the watermark, try again shortly
            log.warning("reading %s[%d] failed (%s); retrying", tp.topic, tp.partition, exc)
            stale = self._consumers.pop(tp, None)
            if stale is not None:
                stale.close()
            finalizer.register(_CommitOffset(config, tp.topic, tp.partition, None))
            tracker.defer_remainder(Duration(micros=OUTAGE_RETRY_MS * 1000))
            return
        last_claimed = None
        for rec in batch:
            if rec.offset < rng.start:
                continue  # the broker reset an out-of-range position: never claim before the restriction
            if not tracker.try_claim(rec.offset):
                break
            if last_claimed is None and config.commit_mode == "ledger":
                ledger.begin(tp.topic, tp.partition, rec.offset)
            last_claimed = rec.offset
            ts = Timestamp(micros=rec.timestamp * 1000)
            if watermark.current_watermark() is None or ts > watermark.current_watermark():
                watermark.set_watermark(ts)
            yield TimestampedValue(
                KafkaRecord(rec.topic, rec.partition, rec.offset, rec.timestamp, rec.key, rec.value), ts)
        # Registered on every call, even with nothing to commit: Prism finalizes every bundle of a
        # stage that asks for finalization, and the SDK refuses to finalize a bundle without callbacks.
        finalizer.register(_CommitOffset(config, tp.topic, tp.partition,
                                         None if last_claimed is None else last_claimed + 1))
        if rng.stop != END_OF_TIME and (last_claimed or rng.start - 1) + 1 >= rng.stop:
            return  # a bounded read that reached its end
        caught_up = last_claimed is None or consumer.highwater(tp) in (None, last_claimed + 1)
        if caught_up:
            idle_mark = Timestamp.now() - Duration(micros=config.idle_watermark_lag_ms * 1000)
            current = watermark.current_watermark()
            if current is None or idle_mark > current:
                watermark.set_watermark(idle_mark)
            tracker.defer_remainder(Duration(micros=config.idle_resume_ms * 1000))
        else:
            tracker.defer_remainder()


_committers: dict = {}
_committed: dict = {}
_committers_lock = threading.Lock()


def _commit(config: KafkaReadConfig, topic: str, partition: int, offset: int) -> None:
    """Commit `offset` for the group, through one cached client per (servers, group); skip repeats."""
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    key = (config.bootstrap_servers, config.group_id, topic, partition)
    if _committed.get(key) == offset:
        return
    with _committers_lock:
        client_key = (config.bootstrap_servers, config.group_id)
        consumer = _committers.get(client_key)
        if consumer is None:
            consumer = _committers[client_key] = config.consumer()
        consumer.commit({TopicPartition(topic, partition): OffsetAndMetadata(offset, "", -1)})
        _committed[key] = offset


def close_committers() -> None:
    """Close the cached commit clients (when a job stops)."""
    with _committers_lock:
        clients = list(_committers.values())
        _committers.clear()
        _committed.clear()
    for client in clients:
        client.close()


class _CommitOffset:
    """Bundle-finalization callback: commit the group's offset once the bundle's output is durable."""

    def __init__(self, config: KafkaReadConfig, topic: str, partition: int, offset: int | None):
        self.config, self.topic, self.partition, self.offset = config, topic, partition, offset

    def __call__(self):
        offset = self.offset
        if self.config.commit_mode == "ledger":
            offset = ledger.safe_offset(self.topic, self.partition)
        if offset is None:
            return
        offset = max(offset, self.config.floor(self.topic, self.partition))
        try:
            _commit(self.config, self.topic, self.partition, offset)
        except Exception:  # noqa: BLE001 - a failed commit only means re-reading, never loss
            log.warning("offset commit for %s[%d]@%d failed; records may be read again",
                        self.topic, self.partition, offset, exc_info=True)
            with _committers_lock:
                stale = _committers.pop((self.config.bootstrap_servers, self.config.group_id), None)
            if stale is not None:
                stale.close()


class ReadFromKafka(beam.PTransform):
    """Read `config.topics` as an unbounded (or, with stop_at_end, bounded) PCollection of KafkaRecord."""

    def __init__(self, config: KafkaReadConfig):
        super().__init__()
        self.config = config

    def expand(self, pbegin):
        return (
            pbegin
            | "Impulse" >> beam.Impulse()
            | "Topics" >> beam.FlatMap(lambda _, topics: list(topics), self.config.topics)
            | "ListPartitions" >> beam.ParDo(ListPartitionsFn(self.config))
            | "ReadPartitions" >> beam.ParDo(ReadPartitionFn())
        )
