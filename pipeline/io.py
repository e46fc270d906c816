"""Sources and sinks of the graph: archived input (JSONL articles, raw feed documents), Kafka, JSONL files.

Every source yields RawArticle elements on its main output and DeadLetter records on DEAD.
"""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from pipeline.kafka_source import KafkaReadConfig, KafkaRecord, ReadFromKafka
from pipeline.stages import DEAD, decode_raw_article, dead_letter
from schemas.records import RawArticle
from schemas.topics import Topic

log = logging.getLogger(__name__)

FEED_SUFFIXES = {".xml", ".rss", ".atom", ".rdf", ".feed", ".json"}
_STAMP = re.compile(r"(\d{8}T\d{6}Z)")


# ---------------------------------------------------------------- archived articles (JSONL)

def parse_article_line(line: str, ref: str) -> RawArticle | object:
    """One JSONL line (id, url, title, text, published, language, outlet; unknown fields ignored)."""
    if not line.strip():
        return None
    result = decode_raw_article(line, payload_ref=ref)
    if isinstance(result, RawArticle) and result.origin is None:
        result = result.model_copy(update={"origin": ref})
    return result


class _ParseLinesFn(beam.DoFn):
    def __init__(self):
        self.lines = Metrics.counter("source", "lines")

    def process(self, item: tuple[str, str]):
        ref, line = item
        self.lines.inc()
        result = parse_article_line(line, ref)
        if result is None:
            return
        if isinstance(result, RawArticle):
            yield result
        else:
            yield pvalue.TaggedOutput(DEAD, result)


class ReadArticlesJsonl(beam.PTransform):
    """JSONL files of articles → {main: RawArticle, DEAD: DeadLetter}."""

    def __init__(self, paths: list[str]):
        super().__init__()
        self.paths = paths

    def expand(self, pbegin):
        return (
            pbegin
            | "Files" >> beam.Create(self.paths, reshuffle=False)
            | "Lines" >> beam.FlatMap(_numbered_lines)
            | "Reshuffle" >> beam.Reshuffle()
            | "Parse" >> beam.ParDo(_ParseLinesFn()).with_outputs(DEAD, main="articles")
        )


def _numbered_lines(path: str) -> Iterator[tuple[str, str]]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            yield f"{path}:{number}", line


# ---------------------------------------------------------------- archived raw feed documents

def fetch_time_of(path: Path) -> datetime:
    """The fetch time of an archived document: a YYYYMMDDTHHMMSSZ stamp in its name, else its mtime."""
    match = _STAMP.search(path.name)
    if match:
        return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)


def list_documents(root: Path) -> list[Path]:
    """Every regular file under `root` (sorted, hidden files and README/LICENSE-like files left out)."""
    if root.is_file():
        return [root]
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or name.upper().startswith(("README", "LICENSE", "SOURCE_COMMIT", "MANIFEST")):
                continue
            found.append(Path(dirpath) / name)
    return found


class _ParseDocumentFn(beam.DoFn):
    def __init__(self):
        self.documents = Metrics.counter("source", "documents")
        self.entries = Metrics.counter("source", "entries")

    def process(self, item: tuple[str, str]):
        from connectors.feeds.parse import parse_document

        path, fetched_iso = item
        self.documents.inc()
        try:
            data = Path(path).read_bytes()
            parsed = parse_document(data, ref=path, fetched_at=datetime.fromisoformat(fetched_iso))
        except Exception as exc:  # noqa: BLE001 - one bad document never stops a replay
            yield pvalue.TaggedOutput(DEAD, dead_letter("parse", "document could not be read or parsed", exc,
                                                        payload_ref=path))
            return
        self.entries.inc(parsed.entries)
        for article in parsed.articles:
            yield article
        for dl in parsed.dead_letters:
            yield pvalue.TaggedOutput(DEAD, dl)


class ReadFeedDocuments(beam.PTransform):
    """Raw feed documents (RSS/Atom/RDF files) → {main: RawArticle, DEAD: DeadLetter}."""

    def __init__(self, documents: list[tuple[str, str]]):
        super().__init__()
        self.documents = documents  # (path, fetch time ISO)

    def expand(self, pbegin):
        return (
            pbegin
            | "Documents" >> beam.Create(self.documents, reshuffle=False)
            | "Reshuffle" >> beam.Reshuffle()
            | "Parse" >> beam.ParDo(_ParseDocumentFn()).with_outputs(DEAD, main="articles")
        )


# ---------------------------------------------------------------- Kafka

class _DecodeRecordFn(beam.DoFn):
    def __init__(self):
        self.poisoned = Metrics.counter("source", "undecodable_records")

    def process(self, record: KafkaRecord):
        result = decode_raw_article(record.value or b"", source_topic=record.topic,
                                    source_partition=record.partition, source_offset=record.offset,
                                    payload_ref=position(record.topic, record.partition, record.offset))
        if isinstance(result, RawArticle):
            yield result.model_copy(update={"source_position": position(record.topic, record.partition,
                                                                         record.offset)})
        else:
            self.poisoned.inc()
            yield pvalue.TaggedOutput(DEAD, result)


def position(topic: str, partition: int, offset: int) -> str:
    return f"{topic}[{partition}]@{offset}"


def parse_position(value: str | None) -> tuple[str, int, int] | None:
    """'topic[partition]@offset' → (topic, partition, offset); None for anything else."""
    match = re.fullmatch(r"(.+)\[(\d+)\]@(\d+)", value or "")
    return (match.group(1), int(match.group(2)), int(match.group(3))) if match else None


class ReadArticlesFromKafka(beam.PTransform):
    """The raw-article topic → {main: RawArticle, DEAD: DeadLetter} (undecodable records are dead letters)."""

    def __init__(self, config: KafkaReadConfig):
        super().__init__()
        self.config = config

    def expand(self, pbegin):
        return (
            pbegin
            | "Read" >> ReadFromKafka(self.config)
            | "Decode" >> beam.ParDo(_DecodeRecordFn()).with_outputs(DEAD, main="articles")
        )


class WriteToKafkaFn(beam.DoFn):
    """Records → `topic`, keyed by the topic's key field; flushed (acks=all) before the bundle completes."""

    def __init__(self, kafka_settings, topic: Topic):
        self.kafka_settings = kafka_settings
        self.topic = topic
        self.producer = None

    def setup(self):
        from connectors.kafka_io import make_producer

        self.producer = make_producer(self.kafka_settings, client_id=f"nkru-sink-{self.topic.name}")

    def process(self, record):
        from connectors.kafka_io import headers_for

        key = record_key(record, self.topic.key)
        self.producer.send(self.topic.name, key=key.encode("utf-8"), value=self.topic.encode(record),
                           headers=headers_for(self.topic))

    def finish_bundle(self):
        self.producer.flush()

    def teardown(self):
        if self.producer is not None:
            self.producer.close()


def record_key(record, dotted: str) -> str:
    value = record
    for part in dotted.split("."):
        value = getattr(value, part)
    return str(value)


# ---------------------------------------------------------------- JSONL files

def to_json_line(record) -> str:
    return record.model_dump_json()


class WriteJsonl(beam.PTransform):
    """Records → shard files `<prefix>-NNNNN-of-NNNNN.jsonl` (merged and sorted by the caller)."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def expand(self, records):
        return (records
                | "ToJson" >> beam.Map(to_json_line)
                | "Write" >> beam.io.WriteToText(self.prefix, file_name_suffix=".jsonl", shard_name_template="-SSSSS-of-NNNNN"))


def merge_shards(parts: Iterable[Path], target: Path, sort_key) -> int:
    """Concatenate shard files into `target`, one record a line, sorted by `sort_key(dict)`; return count."""
    rows = []
    for part in parts:
        with open(part, encoding="utf-8") as fh:
            rows.extend(line for line in fh if line.strip())
    rows.sort(key=lambda line: sort_key(json.loads(line)))
    with open(target, "w", encoding="utf-8") as out:
        for line in rows:
            out.write(line if line.endswith("\n") else line + "\n")
    return len(rows)
