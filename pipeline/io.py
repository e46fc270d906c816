"""Edges of the graph: the raw-article topic as a source, record keys and positions, JSONL shard files.

Every source yields RawArticle elements on its main output and DeadLetter records on DEAD. Archived input
(feed documents, entries exports, JSONL articles, WARC files) is read by `pipeline.sources*`.
"""

from __future__ import annotations

import logging
import re

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from pipeline.kafka_source import KafkaReadConfig, KafkaRecord, ReadFromKafka
from pipeline.stages import DEAD, decode_raw_article
from schemas.records import RawArticle

log = logging.getLogger(__name__)

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
