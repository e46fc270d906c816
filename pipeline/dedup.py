"""Article deduplication: EnrichedArticle → EnrichedArticle, exact duplicates (same canonical id) dropped.

Skeleton: exact duplicates only, keyed by article id in Beam state. Near-duplicates are issue 5.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.coders import BooleanCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

from schemas.records import EnrichedArticle


class FirstByIdFn(beam.DoFn):
    """(id, article) → the article the first time its id is seen."""

    SEEN = ReadModifyWriteStateSpec("seen", BooleanCoder())

    def __init__(self):
        self.dropped = Metrics.counter("dedup", "exact_duplicates")

    def process(self, keyed, seen=beam.DoFn.StateParam(SEEN)):
        _, article = keyed
        if seen.read():
            self.dropped.inc()
            return
        seen.write(True)
        yield article


class DeduplicateArticles(beam.PTransform):
    def expand(self, enriched):
        return (
            enriched
            | "KeyById" >> beam.Map(lambda e: (e.article.id, e)).with_output_types(tuple[str, EnrichedArticle])
            | "FirstById" >> beam.ParDo(FirstByIdFn())
        )
