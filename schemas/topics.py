"""The topic registry: topic name → key → model, retention; the single place topics are declared."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from schemas.records import (
    Alert,
    CanonicalEvent,
    DeadLetter,
    EnrichedArticle,
    EventMention,
    RawArticle,
)

DAY_MS = 24 * 3600 * 1000
# The largest record nkru writes (uncompressed; the producer's limit) and the canonical topic accepts: an
# event's latest state lists every mention (~0.5-1 kB each), so a big event passes Kafka's 1 MB default.
MAX_RECORD_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Topic:
    name: str
    model: type[BaseModel]
    key: str  # which field of the payload is the record key (documentation and producers use it)
    retention_ms: int
    compacted: bool = False
    description: str = ""
    configs: tuple[tuple[str, str], ...] = ()  # further topic configs nkru sets when it creates the topic

    def encode(self, record: BaseModel) -> bytes:
        return record.model_dump_json().encode("utf-8")

    def decode(self, value: bytes | str):
        return self.model.model_validate_json(value)


TOPICS: dict[str, Topic] = {
    t.name: t
    for t in (
        # LogAppendTime: record timestamps are the broker's append times, increasing per partition, so the
        # source's watermark (record time, or wall clock once caught up) never overtakes a record to come
        Topic("nkru.articles.raw", RawArticle, "id", 7 * DAY_MS,
              description="articles as the connectors produced them",
              configs=(("message.timestamp.type", "LogAppendTime"),)),
        Topic("nkru.articles.enriched", EnrichedArticle, "article.id", 30 * DAY_MS,
              description="articles with relevance, events and duplicate marks"),
        Topic("nkru.events.mentions", EventMention, "mention_id", 30 * DAY_MS,
              description="each extracted event tied to its article"),
        Topic("nkru.events.canonical", CanonicalEvent, "event_id", -1, compacted=True,
              description="merged real-world events, each one's latest state (every mention, the claims)",
              configs=(("max.message.bytes", str(MAX_RECORD_BYTES)),)),
        Topic("nkru.alerts", Alert, "event_id", 90 * DAY_MS,
              description="every alert"),
        Topic("nkru.alerts.high", Alert, "event_id", 90 * DAY_MS,
              description="high-severity alerts only"),
        Topic("nkru.deadletters", DeadLetter, "stage", 30 * DAY_MS,
              description="input a stage could not handle"),
    )
}

RAW = "nkru.articles.raw"
ENRICHED = "nkru.articles.enriched"
MENTIONS = "nkru.events.mentions"
CANONICAL = "nkru.events.canonical"
ALERTS = "nkru.alerts"
ALERTS_HIGH = "nkru.alerts.high"
DEAD_LETTERS = "nkru.deadletters"


def topic(name: str, prefix: str = "") -> Topic:
    """Look a topic up by its base name; `prefix` names a replay's own copy (e.g. 'replay.')."""
    base = TOPICS[name]
    if not prefix:
        return base
    return Topic(prefix + base.name, base.model, base.key, base.retention_ms, base.compacted, base.description,
                 base.configs)


def export_json_schemas(directory: Path) -> list[Path]:
    """Write one JSON Schema per topic (and an index) into `directory`; return the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    index = {}
    for t in TOPICS.values():
        schema = t.model.model_json_schema()
        schema["$id"] = f"urn:nkru:{t.name}"
        schema["x-nkru-topic"] = {"name": t.name, "key": t.key, "retention_ms": t.retention_ms,
                                  "compacted": t.compacted}
        path = directory / f"{t.name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
        index[t.name] = {"schema": path.name, "model": t.model.__name__, "key": t.key,
                         "description": t.description}
    idx = directory / "index.json"
    idx.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    written.append(idx)
    return written
