"""Benchmark: the streaming job's memory and throughput over a long stream whose article time advances steadily.

A private broker; the streaming job (`pipeline.streaming.StreamingJob`, Prism, as `bench_streaming.py` runs it)
started; a producer in a child process writes `bench.synth_news` articles (feed-sized by default, article time
advancing `--per-day` articles per day, so 30 days of article time — the dedup horizon — is 30 × per-day
articles) onto the raw topic in batches of `--batch`, keeping at most `--lag` articles ahead of the enriched
topic, until `--max-articles` or `--minutes`; then the job drains and stops. Every `--sample` seconds: articles
enriched (the enriched topic's end offsets), articles produced, and the resident memory of the job's processes
(this Python process, which runs the SDK harness, and Prism; not the broker, not the producer).

Reported: RSS against articles processed (every 10 % of the run), throughput per window of 10,000 articles,
and, afterwards and offline, the largest LSH buckets of one horizon of the stream and what one flush of the
`MatchInBands` fold writes (the shard's whole state before e49cb01, its change set since) when the horizon
holds 10 %, 50 % and 100 % of its articles (at 2,000 articles per day: 60,000 articles).

    .venv/bin/python bench/bench_state.py [--minutes 25] [--max-articles 1000000] [--per-day 2000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_replay import _rss_kb, _tree
from bench.bench_throughput import _cpu_s
from bench.synth_news import FEED, NewsStream, bucket_sizes

WINDOW = 10_000
HORIZON_DAYS = 30


def _stream(args) -> NewsStream:
    return NewsStream(size=args.size, relevant_share=args.relevant_share, reprint_share=args.reprint_share,
                      per_day=args.per_day, seed=args.seed)


def _enriched_count(consumer, partitions) -> int:
    return sum(consumer.end_offsets(partitions).values())


def _partitions(consumer, topic: str):
    from kafka import TopicPartition

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        time.sleep(0.5)  # the topic's metadata is not there yet
    raise SystemExit(f"topic {topic} has no partitions")


# ---------------------------------------------------------------- the producer (a child process)

def produce(config: dict) -> None:
    """Write the stream onto the raw topic in batches, at most `lag` articles ahead of the enriched topic."""
    from kafka import KafkaConsumer, KafkaProducer

    args = argparse.Namespace(**config)
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, acks="all", linger_ms=20, batch_size=262144)
    watch = KafkaConsumer(bootstrap_servers=args.bootstrap)
    enriched = _partitions(watch, args.enriched)
    produced, deadline = 0, time.monotonic() + args.minutes * 60
    stream = iter(_stream(args))
    while produced < args.max_articles and time.monotonic() < deadline:
        while produced - _enriched_count(watch, enriched) > args.lag and time.monotonic() < deadline:
            time.sleep(0.2)  # pacing the load generator on the job's progress (a condition with a deadline)
        for article in islice(stream, min(args.batch, args.max_articles - produced)):
            producer.send(args.raw, key=article.id.encode(), value=article.model_dump_json().encode())
            produced += 1
        producer.flush()
        print(json.dumps({"t": time.time(), "produced": produced}), flush=True)
    producer.close()
    watch.close()


# ---------------------------------------------------------------- sampling the job

class JobSampler:
    """Every `interval` s: enriched count and RSS/CPU of this process and its descendants except `exclude`."""

    def __init__(self, consumer, partitions, exclude: set[int], interval: float):
        self.consumer, self.partitions, self.exclude, self.interval = consumer, partitions, exclude, interval
        self.samples: list[dict] = []
        self.produced = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.started = time.monotonic()

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()

    def job_pids(self) -> list[int]:
        me = os.getpid()
        skip = {p for root in self.exclude for p in _tree(root)}
        return [p for p in _tree(me) if p not in skip]

    def _run(self) -> None:
        from kafka.errors import KafkaError

        while not self._stop.wait(self.interval):
            pids = self.job_pids()
            me = os.getpid()
            try:
                done = _enriched_count(self.consumer, self.partitions)
            except KafkaError as exc:  # a missed sample is not a failure of the job
                print(f"sample skipped: {exc}", file=sys.stderr)
                continue
            self.samples.append({
                "t": round(time.monotonic() - self.started, 1), "enriched": done, "produced": self.produced,
                "rss_python_mb": round(_rss_kb(me) / 1024), "rss_other_mb": round(sum(_rss_kb(p) for p in pids
                                                                                     if p != me) / 1024),
                "cpu_python_s": round(_cpu_s(me), 1), "cpu_other_s": round(sum(_cpu_s(p) for p in pids if p != me), 1),
                "load": round(os.getloadavg()[0], 2)})


def crossing_time(samples: list[dict], count: int) -> float | None:
    """When the enriched count reached `count` (linear between samples)."""
    prev = None
    for s in samples:
        if s["enriched"] >= count:
            if prev is None or s["enriched"] == prev["enriched"]:
                return s["t"]
            frac = (count - prev["enriched"]) / (s["enriched"] - prev["enriched"])
            return prev["t"] + frac * (s["t"] - prev["t"])
        prev = s
    return None


def windows(samples: list[dict], first_t: float) -> list[dict]:
    out, start_t, k = [], first_t, 1
    while True:
        t = crossing_time(samples, k * WINDOW)
        if t is None:
            return out
        inside = [s for s in samples if start_t <= s["t"] <= t] or [min(samples, key=lambda s: abs(s["t"] - t))]
        span = max(inside[-1]["t"] - inside[0]["t"], 1e-9)
        out.append({"articles": k * WINDOW, "t": round(t, 1), "per_s": round(WINDOW / max(t - start_t, 1e-9), 1),
                    "peak_rss_mb": max(s["rss_python_mb"] + s["rss_other_mb"] for s in inside),
                    "python_cores": round((inside[-1]["cpu_python_s"] - inside[0]["cpu_python_s"]) / span, 2),
                    "prism_cores": round((inside[-1]["cpu_other_s"] - inside[0]["cpu_other_s"]) / span, 2),
                    "load": round(sum(s["load"] for s in inside) / len(inside), 1)})
        start_t, k = t, k + 1


def deciles(samples: list[dict], total: int, per_day: float) -> list[dict]:
    rows = []
    for tenth in range(1, 11):
        target = total * tenth // 10
        s = next((s for s in samples if s["enriched"] >= target), samples[-1])
        rows.append({"share": f"{tenth * 10} %", "t": s["t"], "enriched": s["enriched"],
                     "article_days": round(s["enriched"] / per_day, 1), "rss_python_mb": s["rss_python_mb"],
                     "rss_prism_mb": s["rss_other_mb"], "rss_job_mb": s["rss_python_mb"] + s["rss_other_mb"],
                     "load": s["load"]})
    return rows


# ---------------------------------------------------------------- offline: buckets and the cost of one flush

def flush_cost(args, horizon_n: int, touched: int = 10) -> list[dict]:
    """What one flush of the fullest `MatchInBands` shard writes and reads when one horizon of the stream holds
    10 %, 50 %, 100 % of its articles: before e49cb01 the shard's whole state, pickled, read and written at
    every flush; since then only the change set (the buckets of the flush's `touched` band entries, here the
    last ones the shard received), and the whole state only when the log is compacted or read back."""
    import pickle

    from pipeline.dedup_match import Candidate
    from pipeline.merge_order import CHANGES
    from pipeline.shards import shard_of
    from pipeline.sketch import sketch_text

    def timed(work) -> tuple[float, float]:
        took = []
        for _ in range(5):
            started = time.perf_counter()
            work()
            took.append(time.perf_counter() - started)
        took.sort()
        return took[0] * 1000, took[2] * 1000

    shards, recent, rows = {}, {}, []
    marks = {max(1, horizon_n // 10), horizon_n // 2, horizon_n}
    for i, article in enumerate(islice(_stream(args), horizon_n), 1):
        sketch, keys = sketch_text(article.title, article.text)
        order = (int(article.published.timestamp() * 1_000_000), article.id)
        candidate = Candidate(article.id, order, sketch, f"{article.outlet}.example")
        for key in keys:
            shard = shard_of(key, 16, key[:3])
            shards.setdefault(shard, {}).setdefault(key, []).append(candidate)
            recent.setdefault(shard, []).append(key)
            del recent[shard][:-touched]
        if i in marks:
            name = max(shards, key=lambda k: len(shards[k]))  # the fullest shard
            state = shards[name]
            changes = {key: state[key] for key in recent[name]}
            whole = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
            delta = pickle.dumps((CHANGES, changes), protocol=pickle.HIGHEST_PROTOCOL)
            whole_ms = timed(lambda state=state: pickle.loads(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)))
            delta_ms = timed(lambda changes=changes: pickle.dumps((CHANGES, changes), protocol=pickle.HIGHEST_PROTOCOL))
            rows.append({"articles_in_horizon": i, "shard_keys": len(shards), "sub_keys_in_shard": len(state),
                         "members_in_shard": sum(len(v) for v in state.values()),
                         "pickled_kb": round(len(whole) / 1024), "read_plus_write_ms_min": round(whole_ms[0], 1),
                         "read_plus_write_ms_median": round(whole_ms[1], 1),
                         "change_set_buckets": len(changes), "change_set_kb": round(len(delta) / 1024, 1),
                         "change_set_write_ms_median": round(delta_ms[1], 2)})
    return rows


# ---------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=25.0, help="stop producing after this long")
    parser.add_argument("--max-articles", type=int, default=1_000_000)
    parser.add_argument("--per-day", type=float, default=2000.0, help="articles per day of article time")
    parser.add_argument("--size", default=FEED, help="feed or 3k")
    parser.add_argument("--relevant-share", type=float, default=0.15)
    parser.add_argument("--reprint-share", type=float, default=0.05)
    parser.add_argument("--batch", type=int, default=500, help="articles per produced batch")
    parser.add_argument("--lag", type=int, default=5000, help="produce while at most this many are unprocessed")
    parser.add_argument("--drain", type=float, default=300.0, help="seconds to wait for the job to catch up")
    parser.add_argument("--sample", type=float, default=2.0, help="seconds between samples")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--layout", default="auto", choices=("auto", "single", "sharded"),
                        help="process.layout: how the job's state is keyed (auto: single on Prism)")
    parser.add_argument("--series", type=Path, help="also write every sample here (JSON lines)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--produce", help=argparse.SUPPRESS)  # internal: run as the producer with this config
    args = parser.parse_args()
    if args.produce:
        produce(json.loads(args.produce))
        return
    result = run(args)
    print(json.dumps(result, indent=None if args.json else 2))
    if not args.json:
        print_tables(result)


def run(args) -> dict:
    from kafka import KafkaConsumer

    from connectors import kafka_broker
    from connectors.kafka_io import ensure_topics
    from nkru.settings import KafkaSettings, ObservabilitySettings, ProcessSettings, Settings
    from pipeline.streaming import StreamingJob
    from schemas.topics import ENRICHED, RAW, topic

    broker = kafka_broker.private(Path(tempfile.mkdtemp(prefix="nkru-bench-kafka-")), heap="1g")
    broker_pid = kafka_broker.start(broker)
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap, topic_prefix=prefix, partitions=2)
    ensure_topics(kafka)
    settings = Settings(kafka=kafka, state_dir=Path(tempfile.mkdtemp(prefix="nkru-bench-state-")),
                        observability=ObservabilitySettings(enabled=False),
                        process=ProcessSettings(group_id=f"bench-{prefix}", layout=args.layout))
    raw, enriched = topic(RAW, prefix).name, topic(ENRICHED, prefix).name
    watch = KafkaConsumer(bootstrap_servers=broker.bootstrap)
    partitions = _partitions(watch, enriched)
    load_before = os.getloadavg()
    job = StreamingJob(settings).start()
    config = dict(vars(args), bootstrap=broker.bootstrap, raw=raw, enriched=enriched, series=None)
    producer = subprocess.Popen([sys.executable, __file__, "--produce", json.dumps(config)],
                                stdout=subprocess.PIPE, text=True)
    sampler = JobSampler(watch, partitions, {broker_pid, producer.pid}, args.sample).start()
    produced = 0
    try:
        for line in producer.stdout:  # the producer's progress, until it has finished
            produced = sampler.produced = json.loads(line)["produced"]
        producer.wait()
        deadline = time.monotonic() + args.drain
        while time.monotonic() < deadline and (not sampler.samples or sampler.samples[-1]["enriched"] < produced):
            time.sleep(1)  # waiting for the job to drain (a condition with a deadline)
    finally:
        sampler.stop()
        job.stop()
        watch.close()
        kafka_broker.stop(broker)
        shutil.rmtree(broker.data_dir, ignore_errors=True)
        shutil.rmtree(settings.state_dir, ignore_errors=True)
    load_after = os.getloadavg()
    samples = sampler.samples
    if args.series:
        args.series.write_text("".join(json.dumps(s) + "\n" for s in samples))
    first_t = next((s["t"] for s in samples if s["enriched"] > 0), 0.0)
    done = samples[-1]["enriched"] if samples else 0
    horizon_n = int(HORIZON_DAYS * args.per_day)
    return {
        "produced": produced, "enriched": done, "per_day": args.per_day, "size": args.size,
        "article_days": round(done / args.per_day, 1), "horizons": round(done / horizon_n, 2),
        "wall_s": samples[-1]["t"] if samples else None, "first_enriched_at_s": first_t,
        "mean_per_s": round(done / max(samples[-1]["t"] - first_t, 1e-9), 1) if samples else None,
        "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in load_after],
        "deciles": deciles(samples, done, args.per_day) if samples else [],
        "windows": windows(samples, first_t),
        "buckets_first_horizon": bucket_sizes(islice(_stream(args), min(done, horizon_n))),
        "flush_cost": flush_cost(argparse.Namespace(**{**vars(args), "per_day": 2000.0}), 60_000),
    }


def print_tables(result: dict) -> None:
    print("\n| share of run | elapsed | articles enriched | days of article time | RSS Python | RSS Prism | RSS job "
          "| load |")
    print("|---|---|---|---|---|---|---|---|")
    for r in result["deciles"]:
        print(f"| {r['share']} | {r['t']:.0f} s | {r['enriched']:,} | {r['article_days']} | {r['rss_python_mb']} MB | "
              f"{r['rss_prism_mb']} MB | {r['rss_job_mb']} MB | {r['load']} |")
    print("\n| window ending at | at | articles/s | CPU Python / Prism (cores) | peak RSS in window | load |")
    print("|---|---|---|---|---|---|")
    for w in result["windows"]:
        print(f"| {w['articles']:,} | {w['t']:.0f} s | {w['per_s']} | {w['python_cores']} / {w['prism_cores']} | "
              f"{w['peak_rss_mb']} MB | {w['load']} |")


if __name__ == "__main__":
    main()
