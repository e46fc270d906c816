"""Where the web view's records come from: a replay output directory (events.jsonl, alerts.jsonl) and the
canonical-event and alert Kafka topics, followed from the earliest offset by a background thread.

Unreadable lines or records are logged with their position and counted in the store (shown on the page);
they never stop the reader.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from pydantic import ValidationError

from nkru.settings import KafkaSettings
from nkru.web.store import Store
from schemas.records import Alert, CanonicalEvent
from schemas.topics import ALERTS, CANONICAL, topic

log = logging.getLogger(__name__)


class ReplayDirError(ValueError):
    """The directory is not a replay output directory; the message says what is missing."""


def load_replay_dir(directory: Path, store: Store) -> tuple[int, int]:
    """Read DIR/events.jsonl and DIR/alerts.jsonl into `store`; return (events, alerts) read."""
    events_path, alerts_path = directory / "events.jsonl", directory / "alerts.jsonl"
    if not events_path.is_file() and not alerts_path.is_file():
        raise ReplayDirError(f"{directory} holds neither events.jsonl nor alerts.jsonl (not a replay output)")
    events = _read_jsonl(events_path, CanonicalEvent, store)
    alerts = _read_jsonl(alerts_path, Alert, store)
    for event in events:
        store.add_event(event)
    for alert in alerts:
        store.add_alert(alert)
    return len(events), len(alerts)


def _read_jsonl(path: Path, model, store: Store) -> list:
    if not path.is_file():
        return []
    out = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                out.append(model.model_validate_json(line))
            except ValidationError as exc:
                log.warning("unreadable line %s:%d: %s", path, number, exc.errors()[0]["msg"])
                store.count_unreadable(path.name)
    return out


class TopicFollower(threading.Thread):
    """Consumes the canonical-event and alert topics into a store until `stop()`; retries a missing broker."""

    def __init__(self, kafka: KafkaSettings, store: Store, retry_seconds: float = 5.0) -> None:
        super().__init__(name="nkru-web-follower", daemon=True)
        self.kafka, self.store, self.retry_seconds = kafka, store, retry_seconds
        self._stop_event = threading.Event()
        canonical, alerts = topic(CANONICAL, kafka.topic_prefix), topic(ALERTS, kafka.topic_prefix)
        self._models = {canonical.name: canonical.model, alerts.name: alerts.model}

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        from connectors.kafka_io import KafkaUnavailable, make_consumer

        names = sorted(self._models)
        while not self._stop_event.is_set():
            try:
                consumer = make_consumer(self.kafka, *names, group_id=None, auto_offset_reset="earliest",
                                         client_id="nkru-web")
            except KafkaUnavailable as exc:
                self.store.set_status(f"{exc}; retrying every {self.retry_seconds:.0f}s")
                self._stop_event.wait(self.retry_seconds)
                continue
            self.store.set_status(f"live: following {', '.join(names)} at {self.kafka.bootstrap_servers}")
            try:
                self._consume(consumer)
            finally:
                consumer.close()

    def _consume(self, consumer) -> None:
        while not self._stop_event.is_set():
            for records in consumer.poll(timeout_ms=300).values():
                for rec in records:
                    self._handle(rec)

    def _handle(self, rec) -> None:
        model = self._models.get(rec.topic)
        if rec.value is None:  # a tombstone on the compacted topic: nothing to show
            return
        try:
            record = model.model_validate_json(rec.value) if model else None
        except (ValidationError, ValueError) as exc:
            log.warning("unreadable record %s[%d]@%d: %s", rec.topic, rec.partition, rec.offset, exc)
            self.store.count_unreadable(rec.topic)
            return
        if isinstance(record, CanonicalEvent):
            self.store.add_event(record)
        elif isinstance(record, Alert):
            self.store.add_alert(record)
