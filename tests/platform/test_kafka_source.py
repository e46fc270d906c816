"""The kafka-python SDF source on the real broker and the Prism runner, streaming:
event-time windows fire, a stateful DoFn's timers fire, and offsets are committed only after the
bundle's output is durable (a failing sink leaves its records uncommitted)."""

from __future__ import annotations

import json
import time
import uuid

import apache_beam as beam
import pytest
from apache_beam.transforms import userstate, window
from apache_beam.transforms.timeutil import TimeDomain
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from pipeline.kafka_source import KafkaReadConfig, ReadFromKafka
from pipeline.runners import runner_options

pytestmark = [pytest.mark.kafka, pytest.mark.runner]


class WriteJsonFn(beam.DoFn):
    def __init__(self, bootstrap, topic, fail_on=None):
        self.bootstrap, self.topic, self.fail_on = bootstrap, topic, fail_on

    def setup(self):
        self.producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all")

    def process(self, element):
        if self.fail_on is not None and element.get("i") == self.fail_on:
            raise RuntimeError(f"sink refuses record {self.fail_on}")
        self.producer.send(self.topic, json.dumps(element).encode())

    def finish_bundle(self):
        self.producer.flush()


class BufferUntilTimerFn(beam.DoFn):
    """Buffers values per key and emits their count when an event-time timer fires."""

    BUFFER = userstate.BagStateSpec("buffer", beam.coders.VarIntCoder())
    FLUSH = userstate.TimerSpec("flush", TimeDomain.WATERMARK)

    def process(self, kv, ts=beam.DoFn.TimestampParam, buffer=beam.DoFn.StateParam(BUFFER),
                flush=beam.DoFn.TimerParam(FLUSH)):
        buffer.add(kv[1])
        flush.set(ts + 5)

    @userstate.on_timer(FLUSH)
    def on_flush(self, key=beam.DoFn.KeyParam, buffer=beam.DoFn.StateParam(BUFFER)):
        values = list(buffer.read())
        buffer.clear()
        yield {"timer_key": key, "n": len(values)}


def _topics(bootstrap, *specs):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(name, parts, 1) for name, parts in specs])
    admin.close()


def _produce(bootstrap, topic, count, partitions, base_ms):
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for i in range(count):
        producer.send(topic, key=f"k{i % 3}".encode(), value=json.dumps({"i": i}).encode(),
                      partition=i % partitions, timestamp_ms=base_ms + i * 1000)
    producer.flush()
    producer.close()


def _collect(bootstrap, topic, done, deadline_s=120):
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=500)
    rows = []
    deadline = time.monotonic() + deadline_s
    try:
        while time.monotonic() < deadline and not done(rows):
            rows.extend(json.loads(m.value) for m in consumer)
    finally:
        consumer.close()
    return rows


def _committed(bootstrap, group, topic, partitions):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return [consumer.committed(TopicPartition(topic, p)) for p in range(partitions)]
    finally:
        consumer.close()


def _wait_for(predicate, deadline_s=60):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()


def test_windows_and_timers_fire_and_offsets_commit(kafka_bootstrap, prism_binary):
    tag = uuid.uuid4().hex[:8]
    source, sink, group = f"src.{tag}", f"out.{tag}", f"grp.{tag}"
    _topics(kafka_bootstrap, (source, 2), (sink, 1))
    _produce(kafka_bootstrap, source, 20, 2, base_ms=int(time.time() * 1000) - 120_000)

    pipeline = beam.Pipeline(options=runner_options("prism", streaming=True))
    records = pipeline | ReadFromKafka(KafkaReadConfig(kafka_bootstrap, (source,), group_id=group))
    keyed = records | beam.Map(lambda r: (r.key.decode(), json.loads(r.value)["i"]))
    (keyed
     | "Window" >> beam.WindowInto(window.FixedWindows(5))
     | beam.combiners.Count.PerKey()
     | "Describe" >> beam.ParDo(lambda kv, w=beam.DoFn.WindowParam: [
         {"window_start": float(w.start), "key": kv[0], "count": kv[1]}])
     | "WriteWindows" >> beam.ParDo(WriteJsonFn(kafka_bootstrap, sink)))
    (keyed
     | beam.Reshuffle()
     | beam.ParDo(BufferUntilTimerFn())
     | "WriteTimers" >> beam.ParDo(WriteJsonFn(kafka_bootstrap, sink)))
    result = pipeline.run()
    try:
        rows = _collect(kafka_bootstrap, sink, lambda rows: (
            sum(r.get("count", 0) for r in rows) >= 20 and sum(r.get("n", 0) for r in rows) >= 20))
        committed = _wait_for(lambda: _committed(kafka_bootstrap, group, source, 2) == [10, 10] and [10, 10])
    finally:
        result.cancel()

    windows = [r for r in rows if "window_start" in r]
    timers = [r for r in rows if "timer_key" in r]
    assert sum(r["count"] for r in windows) == 20
    # 20 one-second-apart records in 5-second windows: several distinct windows fired, none twice
    starts = {(r["window_start"], r["key"]) for r in windows}
    assert len(starts) == len(windows) and len({r["window_start"] for r in windows}) >= 4
    assert sum(r["n"] for r in timers) == 20 and {r["timer_key"] for r in timers} == {"k0", "k1", "k2"}
    assert committed == [10, 10]


def test_offsets_not_committed_past_a_failing_bundle(kafka_bootstrap, prism_binary):
    tag = uuid.uuid4().hex[:8]
    source, sink, group = f"src.{tag}", f"out.{tag}", f"grp.{tag}"
    _topics(kafka_bootstrap, (source, 1), (sink, 1))
    _produce(kafka_bootstrap, source, 10, 1, base_ms=int(time.time() * 1000) - 60_000)

    pipeline = beam.Pipeline(options=runner_options("prism", streaming=True))
    (pipeline
     | ReadFromKafka(KafkaReadConfig(kafka_bootstrap, (source,), group_id=group, max_records_per_bundle=1))
     | beam.Map(lambda r: json.loads(r.value))
     | beam.ParDo(WriteJsonFn(kafka_bootstrap, sink, fail_on=6)))
    result = pipeline.run()
    try:
        rows = _collect(kafka_bootstrap, sink, lambda rows: len({r["i"] for r in rows}) >= 6, deadline_s=60)
        # give the runner the chance to (wrongly) commit past the failing record: wait until the
        # committed offset stops moving for a while, with a deadline
        seen = []
        _wait_for(lambda: seen.append(_committed(kafka_bootstrap, group, source, 1)[0]) or
                  (len(seen) > 10 and len(set(seen[-10:])) == 1), deadline_s=30)
    finally:
        result.cancel()
    delivered = {r["i"] for r in rows}
    assert delivered >= set(range(6)) and 6 not in delivered
    committed = seen[-1]
    assert committed is not None and committed <= 6, f"committed {committed} past the record whose output failed"
