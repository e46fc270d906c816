"""Prometheus metrics recorded by the graph's DoFns.

With Prism's LOOPBACK environment the DoFns run inside the `nkru` process, so these series appear on
its /metrics endpoint; on a remote runner they stay in the workers (use the runner's Beam metrics).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECORDS = Counter("nkru_stage_records_total", "records out of each stage", ["stage", "outcome"])
DEAD_LETTERS = Counter("nkru_dead_letters_total", "dead letters written, by stage", ["stage"])
WRITTEN = Counter("nkru_sink_records_total", "records written to each topic", ["topic"])
SUPPRESSED = Counter("nkru_sink_suppressed_total", "records not written because a previous run wrote them",
                     ["topic"])
ALERTS = Counter("nkru_alerts_total", "alerts written", ["kind", "severity"])
LATENCY = Histogram("nkru_end_to_end_latency_seconds",
                    "from a raw record landing on the raw topic to its alert being written",
                    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300))
CONSUMER_LAG = Gauge("nkru_consumer_lag_records", "raw-topic records not yet committed by the job",
                     ["partition"])
