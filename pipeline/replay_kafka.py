"""`nkru replay --to-kafka`: archived input → RawArticle records on the raw topic of a replay prefix (e.g.
`replay.nkru.articles.raw`, never a live topic), in event-time order, paced at N× real time, for rehearsals of
the streaming job (`nkru process` with `kafka.topic_prefix` set to the same prefix).

The archive is read by the same sources as a directory replay (each id once, its earliest snapshot, within
--since/--until) in a bounded Beam job; the launcher then publishes the articles sorted by (event time, id),
each due at start + (event time − first event time) / speed (gaps capped by `max_gap` wall seconds), and the
sources' dead letters to the prefix's dead-letter topic. Record timestamps are the publish time, like the
live connectors'; the event time travels in the payload (`published`) and in an `event_time` header.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import apache_beam as beam
from tqdm import tqdm

from pipeline.io import WriteJsonl
from pipeline.replay import ReplayError, ReplayOptions, execute, read_sources, replay_runner_options, take_inventory
from pipeline.replay_progress import show_progress
from pipeline.replay_summary import source_summary
from schemas.records import parse_timestamp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KafkaTarget:
    """Where and how fast: the replay's topic prefix, a speed (None: as fast as possible), a gap cap (s)."""

    prefix: str = "replay."
    speed: float | None = None
    max_gap: float | None = None

    def check(self, live_prefix: str) -> None:
        """Refuse a prefix that would write to the live topics (empty, or the live prefix itself)."""
        if not self.prefix:
            raise ReplayError("a replay into Kafka needs a topic prefix (e.g. 'replay.'); it never writes live topics")
        if self.prefix == live_prefix:
            raise ReplayError(f"the replay prefix {self.prefix!r} is the live topic prefix; choose another")
        if self.speed is not None and self.speed <= 0:
            raise ReplayError("--speed must be a positive multiple of real time (or 'max')")
        if self.max_gap is not None and self.max_gap < 0:
            raise ReplayError("--max-gap must not be negative")


def parse_speed(text: str | None) -> float | None:
    """'max' (or empty) → None (as fast as possible); '60', '60x' → 60.0."""
    if text is None or text.strip().lower() in ("", "max"):
        return None
    try:
        return float(text.strip().lower().rstrip("x"))
    except ValueError:
        raise ReplayError(f"--speed must be a number (times real time) or 'max', not {text!r}") from None


def schedule(times: list[datetime | None], speed: float | None, max_gap: float | None = None) -> list[float]:
    """Seconds after the start at which each record is due: event-time gaps ÷ speed, each capped at `max_gap`.

    `times` are in publishing order; a record without an event time is due with the one before it.
    """
    due, offset, previous = [], 0.0, None
    for when in times:
        if speed is not None and when is not None and previous is not None:
            gap = max((when - previous).total_seconds(), 0.0) / speed
            offset += gap if max_gap is None else min(gap, max_gap)
        if when is not None:
            previous = when
        due.append(offset)
    return due


def event_order(row: dict) -> tuple:
    published = parse_timestamp(row.get("published"))
    return (published is None, published or datetime.min, row["id"])


def _load(parts: Path, name: str) -> list[tuple[str, dict]]:
    rows = []
    for shard in sorted(parts.glob(f"{name}-*.jsonl")):
        with open(shard, encoding="utf-8") as fh:
            rows.extend((line.rstrip("\n"), json.loads(line)) for line in fh if line.strip())
    return rows


class Publisher:
    """Sends raw-topic records paced by a schedule; counts acknowledgements; fails loudly on any error."""

    def __init__(self, kafka, clock: Callable[[], float] = time.monotonic, wait: Callable[[float], None] | None = None):
        from connectors.kafka_io import make_producer

        self.producer = make_producer(kafka, client_id="nkru-replay")
        self.clock = clock
        self.wait = wait or threading.Event().wait
        self.acked = 0
        self.errors: list[str] = []

    def send(self, topic, key: str, value: bytes, headers: list) -> None:
        future = self.producer.send(topic.name, key=key.encode("utf-8"), value=value, headers=headers)
        future.add_callback(self._acked)
        future.add_errback(lambda exc: self.errors.append(f"{type(exc).__name__}: {exc}"))

    def ready(self, *topics) -> None:
        """Fetch the topics' metadata now, so that the first paced record is not sent late."""
        for t in topics:
            self.producer.partitions_for(t.name)

    def _acked(self, _meta) -> None:
        self.acked += 1

    def at(self, start: float, offset: float) -> None:
        delay = start + offset - self.clock()
        if delay > 0:
            self.wait(delay)

    def close(self) -> None:
        self.producer.flush()
        self.producer.close()
        if self.errors:
            raise ReplayError(f"{len(self.errors)} records were not taken by Kafka; first: {self.errors[0]}")


def publish(kafka, target: KafkaTarget, articles: list[tuple[str, dict]], dead: list[tuple[str, dict]],
            progress: bool, stream=None, publisher: Publisher | None = None) -> dict:
    """Dead letters at once, then the articles in event-time order, paced; returns what was sent."""
    from connectors.kafka_io import headers_for
    from schemas.topics import DEAD_LETTERS, RAW, topic

    raw, dl_topic = topic(RAW, target.prefix), topic(DEAD_LETTERS, target.prefix)
    pub = publisher or Publisher(kafka)
    pub.ready(raw, dl_topic)
    for line, row in dead:
        pub.send(dl_topic, row["stage"], line.encode("utf-8"), headers_for(dl_topic, replay=target.prefix))
    articles = sorted(articles, key=lambda item: event_order(item[1]))
    due = schedule([parse_timestamp(row.get("published")) for _, row in articles], target.speed, target.max_gap)
    bar = tqdm(total=len(articles), unit="article", desc=f"publish {raw.name}", file=stream, disable=not progress,
               mininterval=1.0, dynamic_ncols=True)
    start = None
    for (line, row), offset in zip(articles, due):
        if start is not None:
            pub.at(start, offset)
        pub.send(raw, row["id"], line.encode("utf-8"),
                 headers_for(raw, feed_id=row.get("feed_id") or "", fetched_at=row.get("fetched_at") or "",
                             event_time=row.get("published") or "", replay=target.prefix))
        if start is None:  # the schedule runs from the first record's send, however long that took
            start = pub.clock() - offset
        bar.update()
    bar.close()
    pub.close()
    return {"topic": raw.name, "dead_letter_topic": dl_topic.name, "articles": len(articles),
            "dead_letters": len(dead), "acknowledged": pub.acked, "speed": target.speed, "max_gap": target.max_gap,
            "event_span_seconds": _span(articles), "schedule_seconds": due[-1] if due else 0.0}


def _span(articles: list[tuple[str, dict]]) -> float:
    times = [t for t in (parse_timestamp(row.get("published")) for _, row in articles) if t is not None]
    return (max(times) - min(times)).total_seconds() if times else 0.0


def run_replay_to_kafka(paths: list[Path], kafka, target: KafkaTarget, runner: str = "prism",
                        runner_args: list[str] | None = None, options: ReplayOptions | None = None,
                        out_dir: Path | None = None) -> dict:
    """Read `paths` (bounded job), then publish to `target.prefix`'s raw topic; summary.json in `out_dir` if given.

    `kafka` is the live KafkaSettings (bootstrap, security); its `topic_prefix` is what the replay must not use.
    """
    from connectors.kafka_io import ensure_topics
    from schemas.topics import DEAD_LETTERS, RAW

    options = options or ReplayOptions()
    target.check(kafka.topic_prefix)
    inventory = take_inventory(paths)
    replay_kafka = kafka.model_copy(update={"topic_prefix": target.prefix})
    ensure_topics(replay_kafka, [RAW, DEAD_LETTERS])
    work = Path(tempfile.mkdtemp(prefix="nkru-replay-"))
    try:
        pipeline = beam.Pipeline(options=replay_runner_options(runner, runner_args))
        articles, dead = read_sources(pipeline, inventory, options)
        articles | "WriteRaw" >> WriteJsonl(str(work / "raw"))
        tuple(dead) | "GatherDeadLetters" >> beam.Flatten() | "WriteDeadLetters" >> WriteJsonl(str(work / "dead"))
        counters, progress = execute(pipeline, inventory, options, desc="read")
        progress.bar.close()
        sent = publish(replay_kafka, target, _load(work, "raw"), _load(work, "dead"),
                       show_progress(options.progress, options.progress_stream), options.progress_stream)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = source_summary(inventory, counters, options.since, options.until)
    summary["kafka"] = sent
    summary["metrics"] = dict(sorted(counters.items()))
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    log.info("replayed %d files into %s: %d articles, %d dead letters", summary["documents"], sent["topic"],
             sent["articles"], sent["dead_letters"])
    return summary
