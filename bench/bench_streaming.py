"""Benchmark: the streaming job through Kafka on Prism — sustained throughput and end-to-end latency.

1. sustained: a backlog of N articles on the raw topic, the job started; articles/s from the first to
   the last enriched record (and alerts written meanwhile);
2. latency: M articles produced at R/s into the running job; for each, from its raw record landing
   (Kafka timestamp) to its enriched record and, for those that raise one, to its alert (p50/p95).

    .venv/bin/python bench/bench_streaming.py [--n 5000] [--m 300] [--rate 50] [--bootstrap HOST:PORT]

Without --bootstrap a private broker is started (a temporary data dir) and stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_extract import synthesise  # noqa: E402
from bench.bench_replay import TreeMemory  # noqa: E402


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def _drain(consumer, want: int, deadline_s: float) -> list:
    records, deadline = [], time.monotonic() + deadline_s
    while len(records) < want and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000, help="backlog size for the sustained phase")
    parser.add_argument("--m", type=int, default=300, help="articles in the latency phase")
    parser.add_argument("--rate", type=float, default=50.0, help="articles/s in the latency phase")
    parser.add_argument("--size", type=int, default=600, help="characters of text per article (feed-sized)")
    parser.add_argument("--bootstrap", help="use this broker instead of starting one")
    parser.add_argument("--layout", default="auto", choices=("auto", "single", "sharded"),
                        help="process.layout: how the job's state is keyed (auto: single on Prism)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from kafka import KafkaConsumer, KafkaProducer

    from connectors import kafka_broker
    from connectors.kafka_io import ensure_topics
    from nkru.settings import KafkaSettings, ObservabilitySettings, ProcessSettings, Settings
    from pipeline.streaming import StreamingJob
    from schemas.topics import ALERTS, ENRICHED, RAW, topic

    broker = None
    if args.bootstrap is None:
        broker = kafka_broker.private(Path(tempfile.mkdtemp(prefix="nkru-bench-kafka-")), heap="1g")
        kafka_broker.start(broker)
    bootstrap = args.bootstrap or broker.bootstrap
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix, partitions=2)
    ensure_topics(kafka)
    settings = Settings(kafka=kafka, state_dir=Path(tempfile.mkdtemp(prefix="nkru-bench-state-")),
                        observability=ObservabilitySettings(enabled=False),
                        process=ProcessSettings(group_id=f"bench-{prefix}", layout=args.layout))
    raw, enriched, alerts = (topic(name, prefix).name for name in (RAW, ENRICHED, ALERTS))
    backlog = synthesise(args.n + args.m, args.size, relevant_share=0.05, sentence_share=0.3, seed=11)
    backlog = [a.model_copy(update={"id": f"{a.id}-{i}", "url": f"https://bench.example/{i}"})
               for i, a in enumerate(backlog)]
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for article in backlog[:args.n]:
        producer.send(raw, key=article.id.encode(), value=article.model_dump_json().encode())
    producer.flush()

    enriched_consumer = KafkaConsumer(enriched, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    alert_consumer = KafkaConsumer(alerts, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    with TreeMemory() as memory:
        started = time.monotonic()
        job = StreamingJob(settings).start()
        try:
            first = _drain(enriched_consumer, 1, 300)
            t_first = time.monotonic()
            rest = _drain(enriched_consumer, args.n - len(first), 1800)
            t_last = time.monotonic()
            done = len(first) + len(rest)
            sustained = (done - 1) / max(t_last - t_first, 1e-9)

            # latency: paced production into the running, caught-up job
            raw_ts: dict[str, int] = {}
            url_of: dict[str, str] = {}
            period = 1.0 / args.rate
            t0 = time.monotonic()
            for i, article in enumerate(backlog[args.n:]):
                target = t0 + i * period
                if target > time.monotonic():
                    time.sleep(target - time.monotonic())  # pacing the load generator, not synchronisation
                ts = int(time.time() * 1000)
                producer.send(raw, key=article.id.encode(), value=article.model_dump_json().encode(), timestamp_ms=ts)
                raw_ts[article.id] = ts
                url_of[article.url] = article.id
            producer.flush()
            late = _drain(enriched_consumer, args.m, 300)
            to_enriched = [r.timestamp - raw_ts[json.loads(r.value)["article"]["id"]] for r in late
                           if json.loads(r.value)["article"]["id"] in raw_ts]
            alert_records = _drain(alert_consumer, 10**9, 15)
            to_alert = []
            for rec in alert_records:
                links = json.loads(rec.value).get("links") or []
                ids = [url_of[u] for u in links if u in url_of]
                if ids:
                    to_alert.append(rec.timestamp - max(raw_ts[i] for i in ids))
        finally:
            job.stop()
        wall = time.monotonic() - started
    result = {
        "backlog_articles": args.n, "processed": done, "sustained_articles_per_s": round(sustained, 1),
        "latency_phase": {"articles": args.m, "rate_per_s": args.rate, "enriched": len(to_enriched),
                          "alerts_matched": len(to_alert)},
        "raw_to_enriched_ms": {"p50": _percentile(to_enriched, 0.5), "p95": _percentile(to_enriched, 0.95)},
        "raw_to_alert_ms": {"p50": _percentile(to_alert, 0.5), "p95": _percentile(to_alert, 0.95),
                            "mean": round(statistics.fmean(to_alert), 1) if to_alert else None},
        "peak_rss_mb": round(memory.peak_kb / 1024, 1), "wall_s": round(wall, 1), "cpus": os.cpu_count(),
    }
    producer.close()
    enriched_consumer.close()
    alert_consumer.close()
    if broker is not None:
        kafka_broker.stop(broker)
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
