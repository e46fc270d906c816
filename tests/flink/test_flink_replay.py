"""The replay graph on Apache Flink (Beam's portable runner, embedded Flink 1.19 in a job server assembled from
Maven Central) writes the same events and alerts as on Prism, in Flink's batch and in its streaming mode; and
the Kafka source runs there in streaming mode, its timers fire and its offsets are committed once
checkpoints complete (Flink finalizes bundles on checkpoint completion).

Nothing here skips: when the job server cannot be installed or started, the tests fail and say why.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms import userstate
from apache_beam.transforms.timeutil import TimeDomain
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from pipeline import flink
from pipeline.kafka_source import KafkaReadConfig, ReadFromKafka
from pipeline.replay import run_replay

pytestmark = pytest.mark.runner

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "platform" / "articles.jsonl"
COMPARED = ("events", "alerts", "articles", "dead_letters")
HARNESS_CACHE_MS = 5_000  # SDK workers are reused across a job's stages, and released soon after it ends


class LazyJobServer:
    """One embedded-Flink job server for the module, started by the first test that needs it."""

    def __init__(self, work_dir: Path):
        self.config = flink.JobServerConfig(work_dir=work_dir, die_with_parent=True)
        self.server: flink.JobServer | None = None
        self.error: str | None = None

    def endpoint(self) -> str:
        if self.server is None and self.error is None:
            try:
                flink.install()
                self.server = flink.start(self.config, timeout=180)
            except flink.FlinkError as exc:
                self.error = str(exc)
        if self.error is not None:
            pytest.fail(f"the Flink job server could not be installed or started: {self.error}")
        assert self.server is not None
        return self.server.endpoint

    def stop(self) -> None:
        """Stop the server once it has released the SDK harnesses it ran in this process (LOOPBACK): a harness
        whose job server disappears under it dies with a traceback in its thread."""
        deadline = time.monotonic() + HARNESS_CACHE_MS / 1000 + 30
        while _harness_threads() and time.monotonic() < deadline:
            time.sleep(0.2)
        flink.stop(self.config)


def _harness_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("run_worker") and t.is_alive()]


@pytest.fixture(scope="module")
def job_server(tmp_path_factory):
    lazy = LazyJobServer(tmp_path_factory.mktemp("flink-job-server"))
    yield lazy
    lazy.stop()
    assert flink.status(lazy.config) is None


@pytest.fixture(scope="module")
def on_prism(tmp_path_factory, prism_binary) -> Path:
    out = tmp_path_factory.mktemp("prism")
    run_replay([FIXTURE], out)
    return out


def _replay_on_flink(job_server: LazyJobServer, out: Path, streaming: bool) -> dict:
    args = flink.pipeline_args(job_server.endpoint(), streaming=streaming, parallelism=2,
                               checkpointing_interval_ms=None,
                               extra=[f"--environment_cache_millis={HARNESS_CACHE_MS}"])
    return run_replay([FIXTURE], out, runner="PortableRunner", runner_args=args)


def _assert_same_outputs(flink_out: Path, prism_out: Path) -> None:
    for name in COMPARED:
        ours = (flink_out / f"{name}.jsonl").read_text(encoding="utf-8")
        theirs = (prism_out / f"{name}.jsonl").read_text(encoding="utf-8")
        assert ours == theirs, f"{name}.jsonl differs between Flink and Prism"
    # the comparison is not vacuous: the fixture gives events and alerts
    assert (flink_out / "events.jsonl").read_text().count("\n") > 0
    assert (flink_out / "alerts.jsonl").read_text().count("\n") > 0


def test_batch_replay_on_flink_equals_prism(job_server, on_prism, tmp_path):
    summary = _replay_on_flink(job_server, tmp_path, streaming=False)
    _assert_same_outputs(tmp_path, on_prism)
    assert summary["outputs"]["events"] > 0 and summary["outputs"]["alerts"] > 0


def test_streaming_mode_replay_on_flink_equals_prism(job_server, on_prism, tmp_path):
    """Flink's streaming translation: keyed state in the state backend, timers fired by watermarks."""
    _replay_on_flink(job_server, tmp_path, streaming=True)
    _assert_same_outputs(tmp_path, on_prism)


def test_a_job_server_that_cannot_start_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = flink.JobServerConfig(work_dir=tmp_path, job_port=port, die_with_parent=True)
        with pytest.raises(flink.FlinkError, match="exited with code") as raised:
            flink.start(cfg, timeout=120)
    assert "Address already in use" in str(raised.value) or "BindException" in str(raised.value)
    assert flink.status(cfg) is None


def test_arguments_submit_to_the_job_server_without_a_download():
    args = flink.pipeline_args("localhost:8099", streaming=True, extra=["--parallelism=4"])
    assert "--runner=PortableRunner" in args and "--job_endpoint=localhost:8099" in args
    assert "--environment_type=LOOPBACK" in args and "--streaming" in args
    assert f"--checkpointing_interval={flink.CHECKPOINT_INTERVAL_MS}" in args
    assert args.count("--parallelism=4") == 1 and not any(a.startswith("--flink_job_server_jar") for a in args)


# ------------------------------------------------------------------ the Kafka source in streaming mode

class CountAtTimerFn(beam.DoFn):
    """Buffers values per key; an event-time timer 5 s after each element emits the buffered count."""

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
        yield {"key": key, "n": len(values)}


class ProduceFn(beam.DoFn):
    def __init__(self, bootstrap: str, topic: str):
        self.bootstrap, self.topic = bootstrap, topic

    def setup(self):
        self.producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all")

    def process(self, row):
        self.producer.send(self.topic, json.dumps(row).encode())

    def finish_bundle(self):
        self.producer.flush()

    def teardown(self):
        self.producer.close()


def _committed(bootstrap: str, group: str, topic: str, partitions: int) -> list[int | None]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return [consumer.committed(TopicPartition(topic, p)) for p in range(partitions)]
    finally:
        consumer.close()


def test_kafka_source_on_flink_fires_timers_and_commits_offsets_after_checkpoints(job_server, kafka_bootstrap):
    tag = uuid.uuid4().hex[:8]
    source, sink, group = f"flink-src.{tag}", f"flink-out.{tag}", f"flink-grp.{tag}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(source, 2, 1), NewTopic(sink, 1, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    base_ms = int(time.time() * 1000) - 120_000
    for i in range(20):
        producer.send(source, key=f"k{i % 3}".encode(), value=json.dumps({"i": i}).encode(), partition=i % 2,
                      timestamp_ms=base_ms + i * 1000)
    producer.flush()
    producer.close()

    args = flink.pipeline_args(job_server.endpoint(), streaming=True, parallelism=2, checkpointing_interval_ms=2000,
                               extra=[f"--environment_cache_millis={HARNESS_CACHE_MS}"])
    pipeline = beam.Pipeline(options=PipelineOptions(args))
    (pipeline
     | ReadFromKafka(KafkaReadConfig(kafka_bootstrap, (source,), group_id=group))
     | beam.Map(lambda r: (r.key.decode(), json.loads(r.value)["i"]))
     | beam.ParDo(CountAtTimerFn())
     | beam.ParDo(ProduceFn(kafka_bootstrap, sink)))
    result = pipeline.run()
    rows: list[dict] = []
    committed: list[int | None] = []
    try:
        consumer = KafkaConsumer(sink, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                                 consumer_timeout_ms=500)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            rows.extend(json.loads(m.value) for m in consumer)
            committed = _committed(kafka_bootstrap, group, source, 2)
            if sum(r["n"] for r in rows) >= 20 and committed == [10, 10]:
                break
        consumer.close()
    finally:
        result.cancel()
    assert sum(r["n"] for r in rows) == 20 and {r["key"] for r in rows} == {"k0", "k1", "k2"}
    assert committed == [10, 10], f"offsets committed: {committed}"
