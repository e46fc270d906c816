"""Per-element stages of the graph: decode raw records, extract events, explode mentions.

RawArticle → EnrichedArticle (extraction failures → dead letters, stage "extract");
EnrichedArticle → EventMention for each event of a relevant article (reprints keep their duplicate_of mark).
"""

from __future__ import annotations

import hashlib
import json
import traceback
from typing import Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics
from pydantic import ValidationError

from pipeline import telemetry
from pipeline.extraction import extract
from schemas.records import DeadLetter, EnrichedArticle, EventMention, RawArticle

DEAD = "dead_letters"
PAYLOAD_LIMIT = 64 * 1024


def dead_letter(stage: str, reason: str, error: BaseException | str | None = None, payload: Any = None,
                **where: Any) -> DeadLetter:
    """One dead-letter record: what failed, why, and the original payload (truncated) or a reference."""
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8", errors="replace")
    elif payload is not None and not isinstance(payload, str):
        payload = payload.model_dump_json() if hasattr(payload, "model_dump_json") else json.dumps(payload,
                                                                                                    default=str)
    if isinstance(error, BaseException):
        error = "".join(traceback.format_exception_only(type(error), error)).strip()
    return DeadLetter(stage=stage, reason=reason, error=error,
                      payload=None if payload is None else payload[:PAYLOAD_LIMIT], **where)


def stable_id(*parts: str, length: int = 16) -> str:
    """A deterministic short id from `parts` (same input, same id, on every runner and replay)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=16).hexdigest()
    return digest[:length]


def decode_raw_article(value: bytes | str, **where: Any) -> RawArticle | DeadLetter:
    """A raw-topic payload → RawArticle, or a dead letter (stage "decode") when it is not one."""
    try:
        return RawArticle.model_validate_json(value)
    except (ValidationError, ValueError) as exc:
        return dead_letter("decode", "not a valid RawArticle", exc, value, **where)


class ExtractFn(beam.DoFn):
    """RawArticle → EnrichedArticle; an exception becomes a dead letter, not a failed bundle."""

    def __init__(self, ontology):
        self.ontology = ontology
        self.relevant = Metrics.counter("extract", "relevant")
        self.irrelevant = Metrics.counter("extract", "irrelevant")
        self.failed = Metrics.counter("extract", "dead_letters")

    def process(self, article: RawArticle):
        try:
            result = extract(article, self.ontology)
        except Exception as exc:  # noqa: BLE001 - any failure of one article must not stop the job
            self.failed.inc()
            telemetry.RECORDS.labels("extract", "dead_letter").inc()
            yield pvalue.TaggedOutput(DEAD, dead_letter("extract", "extractor raised", exc, article,
                                                        payload_ref=article.source_position or article.origin))
            return
        (self.relevant if result.relevant else self.irrelevant).inc()
        telemetry.RECORDS.labels("extract", "relevant" if result.relevant else "irrelevant").inc()
        yield EnrichedArticle(article=article, relevant=result.relevant, relevance_score=result.relevance_score,
                              events=result.events if result.relevant else [],
                              ontology_version=result.ontology_version)


class ExtractEvents(beam.PTransform):
    """RawArticle → {MAIN: EnrichedArticle, DEAD: DeadLetter}."""

    MAIN = "enriched"

    def __init__(self, ontology):
        super().__init__()
        self.ontology = ontology

    def expand(self, articles):
        return articles | "Extract" >> beam.ParDo(ExtractFn(self.ontology)).with_outputs(DEAD, main=self.MAIN)


def mentions_of(enriched: EnrichedArticle) -> list[EventMention]:
    """The event mentions of one enriched article (reprints included, marked with duplicate_of; without a
    publication time, its fetch time: the latest it can have appeared); none if irrelevant."""
    if not enriched.relevant:
        return []
    article = enriched.article
    return [
        EventMention(mention_id=stable_id(article.id, str(i), event.type), article_id=article.id, url=article.url,
                     outlet=article.outlet, published=article.published,
                     fetched_at=None if article.published else article.fetched_at,
                     cluster_id=enriched.cluster_id or article.id, duplicate_of=enriched.duplicate_of,
                     source_position=article.source_position, title=article.title or None, event=event,
                     ontology_version=enriched.ontology_version)
        for i, event in enumerate(enriched.events)
    ]


class ExplodeMentions(beam.PTransform):
    """EnrichedArticle → EventMention (one per extracted event)."""

    def expand(self, enriched):
        return enriched | "Mentions" >> beam.FlatMap(mentions_of)
