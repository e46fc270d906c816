"""Benchmark: feed item → alert through `nkru run` (the real poller, Kafka and the streaming job on Prism).

A private broker; a local HTTP server with one RSS feed (ETag, 304 when unchanged) to which partnership items
are added every --interval seconds; `nkru run` as a subprocess, configured by a settings file, polling that
feed every --poll seconds. Each item is its own news (its own event, article times 40 days apart, so neither
deduplication nor merging folds it into another) and raises a `new` alert. For each item:

- fetched → alert: from the end of the first 200 response whose document contained the item (recorded by the
  server) to the record timestamp of the item's first alert — the poll interval is excluded;
- raw → alert: from the item's raw-topic record timestamp (LogAppendTime) to that alert;
- fetched → raw: the connector's share (parse, publish); raw → enriched: the job's extraction path;
  added → alert: including the wait for the next poll.

    .venv/bin/python bench/bench_feed_latency.py [--items 40] [--interval 3] [--poll 2] [--json]

One warm-up item (not counted) is added first and its alert awaited: the job has started by then.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_streaming import _percentile

SOURCES = ["South Korea's National Intelligence Service", "Ukraine's military intelligence agency HUR",
           "South Korea's Joint Chiefs of Staff", "a Western intelligence official", "Japan's defence ministry"]
OFFICIALS = ["President Volodymyr Zelensky", "Kyrylo Budanov", "Ukraine's defence minister"]
REGIONS = ["Kursk", "Belgorod", "Bryansk", "Donetsk", "Zaporizhzhia", "Kherson", "Luhansk"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
SYSTEMS = ["air defence systems", "electronic warfare equipment", "drone production technology"]
VISITORS = ["Defence Minister Andrei Belousov", "Foreign Minister Sergei Lavrov"]
# (title, text) in the style of the extraction fixtures; one event type each, all watched by the alert rules
TEMPLATES = [
    ("North Korea sends {n:,} more troops to {region}",
     ("{src} said on {wd} that about {n:,} North Korean soldiers have been sent to Russia's {region} region. "
      "The troops were moved by train from the Far East and joined Russian units there.")),
    ("Pyongyang shipped {n:,} containers of munitions to Russia",
     ("{src} said North Korea has shipped roughly {n:,} containers of munitions to Russia through the port of "
      "Rajin. The cargo is believed to include artillery shells and rockets.")),
    ("{n:,} North Korean soldiers killed or wounded in {region}",
     ("{official} said on {wd} that more than {n:,} North Korean soldiers had been killed or wounded in the "
      "{region} region. Ukrainian drones hit several of their positions this week.")),
    ("Russia gave North Korea {system}",
     ("Russia has provided {system} to North Korea, {src} told parliament on {wd}. The equipment was deployed "
      "around Pyongyang.")),
    ("Ukraine captures {k} North Korean soldiers",
     ("Ukrainian special forces captured {k} North Korean soldiers in the {region} region on {wd}. The men were "
      "taken to Kyiv for questioning by the SBU.")),
    ("Russian {visitor} in Pyongyang",
     ("Russian {visitor} arrived in Pyongyang on {wd} for talks with Kim Jong Un. The two sides discussed "
      "expanding military cooperation under their treaty.")),
]
SPACING = timedelta(days=40)  # article time between items: beyond the dedup (30 d) and merge (21 d) horizons


def partnership_item(i: int, rng: random.Random) -> tuple[str, str]:
    """Title and text of item `i`: a partnership report with its own figures, places and sources."""
    title, text = TEMPLATES[i % len(TEMPLATES)]
    fields = {"n": rng.randrange(8, 160) * 100, "k": rng.randrange(2, 9), "src": rng.choice(SOURCES),
              "official": rng.choice(OFFICIALS), "region": rng.choice(REGIONS), "wd": rng.choice(WEEKDAYS),
              "system": rng.choice(SYSTEMS), "visitor": rng.choice(VISITORS)}
    text = text.format(**fields)
    return title.format(**fields), text[0].upper() + text[1:]


class Feed:
    """The feed's items; the HTTP handler serves the newest `window` of them and records first deliveries."""

    def __init__(self, run_id: str, window: int, first_published: datetime):
        self.run_id, self.window, self.first_published = run_id, window, first_published
        self.lock = threading.Lock()
        self.items: list[dict] = []
        self.version = 0
        self.first_served: dict[str, float] = {}  # slug → end of the first 200 response containing it
        self.responses = {200: 0, 304: 0}

    def add(self, slug: str, index: int, title: str, text: str) -> float:
        with self.lock:
            self.items.append({"slug": slug, "title": title, "text": text,
                               "published": self.first_published + index * SPACING})
            self.version += 1
            return time.time()

    def document(self) -> tuple[str, bytes, list[str]]:
        with self.lock:
            items, version = self.items[-self.window:], self.version
        entries = "".join(
            f"<item><title>{escape(it['title'])}</title>"
            f"<link>https://bench-wire.example.org/{self.run_id}/{it['slug']}</link>"
            f"<guid>https://bench-wire.example.org/{self.run_id}/{it['slug']}</guid>"
            f"<pubDate>{format_datetime(it['published'])}</pubDate>"
            f"<description>{escape(it['text'])}</description></item>" for it in reversed(items))
        body = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Bench Wire</title>'
                f"<link>https://bench-wire.example.org/</link><language>en</language>{entries}</channel></rss>")
        return f'"v{version}"', body.encode(), [it["slug"] for it in items]


def serve(feed: Feed) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            etag, body, slugs = feed.document()
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                feed.responses[304] += 1
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            served = time.time()
            with feed.lock:
                feed.responses[200] += 1
                for slug in slugs:
                    feed.first_served.setdefault(slug, served)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="feed-server", daemon=True).start()
    return server


class Collector(threading.Thread):
    """Reads the raw, enriched and alert topics from the beginning: slug → first record timestamp (ms) on each."""

    def __init__(self, kafka, raw: str, enriched: str, alerts: str, run_id: str):
        super().__init__(name="collector", daemon=True)
        from connectors.kafka_io import make_consumer

        self.consumer = make_consumer(kafka, raw, enriched, alerts, group_id=None)
        self.raw_topic, self.enriched_topic, self.run_id = raw, enriched, run_id
        self.raw_ts: dict[str, int] = {}
        self.enriched_ts: dict[str, int] = {}
        self.alert_ts: dict[str, int] = {}
        self.alerts = 0
        self.stop = threading.Event()

    def _slugs(self, urls: list[str]) -> list[str]:
        marker = f"/{self.run_id}/"
        return [u.split(marker, 1)[1].strip("/") for u in urls if u and marker in u]

    def run(self) -> None:
        while not self.stop.is_set():
            for records in self.consumer.poll(timeout_ms=200).values():
                for rec in records:
                    value = json.loads(rec.value)
                    if rec.topic == self.raw_topic:
                        for slug in self._slugs([value.get("url"), value.get("id")])[:1]:
                            self.raw_ts.setdefault(slug, rec.timestamp)
                    elif rec.topic == self.enriched_topic:
                        article = value.get("article") or {}
                        for slug in self._slugs([article.get("url"), article.get("id")])[:1]:
                            self.enriched_ts.setdefault(slug, rec.timestamp)
                    else:
                        self.alerts += 1
                        for slug in self._slugs(value.get("links") or []):
                            self.alert_ts[slug] = min(rec.timestamp, self.alert_ts.get(slug, rec.timestamp))
        self.consumer.close()

    def wait_for(self, slugs: list[str], deadline_s: float) -> bool:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if all(s in self.alert_ts for s in slugs):
                return True
            self.stop.wait(0.2)
        return False


def _stats(values: list[float]) -> dict:
    return {"n": len(values), "p50": round(_percentile(values, 0.5)), "p95": round(_percentile(values, 0.95)),
            "max": round(max(values)) if values else None}


def _start_nkru(workdir: Path, bootstrap: str, prefix: str, feed_url: str, poll: float) -> subprocess.Popen:
    (workdir / "feeds.yaml").write_text(yaml.safe_dump({"feeds": [
        {"id": "bench-wire", "url": feed_url, "outlet": "Bench Wire", "language": "en", "poll_interval": poll}]}))
    (workdir / "nkru.yaml").write_text(yaml.safe_dump({
        "kafka": {"bootstrap_servers": bootstrap, "topic_prefix": prefix},
        "process": {"group_id": f"bench-{prefix}"}, "observability": {"enabled": False},
        "state_dir": str(workdir / "state"), "feeds": str(workdir / "feeds.yaml")}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NKRU_") or k in ("NKRU_CACHE", "NKRU_PRISM")}
    with open(workdir / "nkru.out", "wb") as out, open(workdir / "nkru.log", "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "nkru", "--config", str(workdir / "nkru.yaml"), "run",
                                 "--no-sample", "--no-local-kafka", "--json"],
                                cwd=ROOT, env=env, stdout=out, stderr=log, stdin=subprocess.DEVNULL)


def _stop(proc: subprocess.Popen) -> int:
    # SIGTERM: Beam's Prism job server takes over SIGINT once the job starts (its handler then fails)
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=40, help="timed items (after one warm-up item)")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between two new items")
    parser.add_argument("--poll", type=float, default=2.0, help="the feed's poll interval, seconds (≥ 1)")
    parser.add_argument("--window", type=int, default=20, help="items the feed document keeps")
    parser.add_argument("--bootstrap", help="use this broker instead of starting one")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from connectors import kafka_broker
    from connectors.kafka_io import ensure_topics
    from nkru.settings import KafkaSettings
    from schemas.topics import ALERTS, ENRICHED, RAW, topic

    workdir = Path(tempfile.mkdtemp(prefix="nkru-bench-feed-"))
    broker = None
    if args.bootstrap is None:
        broker = kafka_broker.private(workdir / "kafka", heap="512m")
        kafka_broker.start(broker)
    bootstrap = args.bootstrap or broker.bootstrap
    run_id = uuid.uuid4().hex[:8]
    prefix = f"benchfeed{run_id}."
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix)
    ensure_topics(kafka)
    first = datetime.now(UTC).replace(microsecond=0) - (args.items + 2) * SPACING
    feed = Feed(run_id, args.window, first)
    server = serve(feed)
    collector = Collector(kafka, *(topic(name, prefix).name for name in (RAW, ENRICHED, ALERTS)), run_id)
    collector.start()
    load_before = os.getloadavg()
    started = time.monotonic()
    proc = _start_nkru(workdir, bootstrap, prefix, f"http://127.0.0.1:{server.server_address[1]}/feed.xml",
                       args.poll)
    rng = random.Random(7)
    added: dict[str, float] = {}
    try:
        feed.add("warm-up", 0, *partnership_item(0, rng))
        if not collector.wait_for(["warm-up"], 300):
            raise SystemExit(f"no alert for the warm-up item within 300 s; see {workdir / 'nkru.log'}")
        ready = time.monotonic() - started
        t0 = time.monotonic()
        for i in range(args.items):
            target = t0 + i * args.interval
            if target > time.monotonic():
                time.sleep(target - time.monotonic())  # pacing the load generator, not synchronisation
            slug = f"story-{i}"
            added[slug] = feed.add(slug, i + 1, *partnership_item(i + 1, rng))
        complete = collector.wait_for(list(added), 180)
    finally:
        code = _stop(proc)
        collector.stop.set()
        collector.join(timeout=10)
        server.shutdown()
        if broker is not None:
            kafka_broker.stop(broker)
    wall = time.monotonic() - started
    alert_ms = collector.alert_ts
    fetched = [alert_ms[s] - feed.first_served[s] * 1000 for s in added if s in alert_ms and s in feed.first_served]
    raw = [alert_ms[s] - collector.raw_ts[s] for s in added if s in alert_ms and s in collector.raw_ts]
    connector = [collector.raw_ts[s] - feed.first_served[s] * 1000 for s in added
                 if s in collector.raw_ts and s in feed.first_served]
    enriched = [collector.enriched_ts[s] - collector.raw_ts[s] for s in added
                if s in collector.enriched_ts and s in collector.raw_ts]
    whole = [alert_ms[s] - added[s] * 1000 for s in added if s in alert_ms]
    result = {
        "items": args.items, "interval_s": args.interval, "poll_interval_s": args.poll,
        "alerted": sum(s in alert_ms for s in added), "complete": complete, "alerts_on_topic": collector.alerts,
        "fetched_to_alert_ms": _stats(fetched), "raw_to_alert_ms": _stats(raw),
        "fetched_to_raw_ms": _stats(connector), "raw_to_enriched_ms": _stats(enriched),
        "added_to_alert_ms": _stats(whole),
        "feed_responses": {str(k): v for k, v in feed.responses.items()},
        "startup_to_first_alert_s": round(ready, 1), "wall_s": round(wall, 1), "nkru_exit_code": code,
        "cpus": os.cpu_count(), "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()], "workdir": str(workdir),
    }
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
