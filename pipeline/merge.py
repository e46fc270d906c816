"""Event merging: EventMention → CanonicalEvent revisions.

Skeleton: one canonical event per (article cluster, event type), revision 1. Real merging is issue 5.
"""

from __future__ import annotations

import apache_beam as beam

from pipeline.stages import stable_id
from schemas.records import CanonicalEvent, EventMention, MentionRef


def canonical_from_mention(m: EventMention) -> CanonicalEvent:
    e = m.event
    return CanonicalEvent(
        event_id=stable_id(e.type, m.cluster_id or m.article_id), type=e.type, revision=1,
        first_seen=m.published, last_seen=m.published, actors=e.actors, location=e.location,
        quantities=e.quantities, event_date=e.event_date, modality=e.modality,
        mentions=[MentionRef(article_id=m.article_id, url=m.url, outlet=m.outlet, published=m.published,
                             modality=e.modality, source_of_claim=e.source_of_claim, quantities=e.quantities,
                             evidence=e.evidence, cluster_id=m.cluster_id)],
        independent_sources=1, claims=[], ontology_version=m.ontology_version)


class MergeEvents(beam.PTransform):
    def expand(self, mentions):
        return mentions | "ToCanonical" >> beam.Map(canonical_from_mention)
