"""Alerting: CanonicalEvent revisions → Alert, by rules kept as data.

Skeleton: one `new` alert per canonical event at revision 1. Rules as YAML are issue 5.
"""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam

from pipeline.stages import stable_id
from schemas.records import Alert, CanonicalEvent


def load_rules(path: Path | None = None) -> dict:
    return {}


def alerts_for(event: CanonicalEvent, rules: dict) -> list[Alert]:
    if event.revision != 1:
        return []
    first = event.mentions[0] if event.mentions else None
    summary = f"{event.type.replace('_', ' ')}: " + (first.evidence.text if first and first.evidence else "")
    return [Alert(alert_id=stable_id(event.event_id, str(event.revision)), event_id=event.event_id,
                  revision=event.revision, kind="new", severity="medium", event_type=event.type,
                  summary=summary[:280], evidence=[m.evidence for m in event.mentions if m.evidence],
                  links=[m.url for m in event.mentions if m.url], event_time=event.first_seen,
                  actors=sorted({a.code for a in event.actors}), ontology_version=event.ontology_version)]


class RaiseAlerts(beam.PTransform):
    def __init__(self, rules: dict):
        super().__init__()
        self.rules = rules

    def expand(self, events):
        return events | "Alerts" >> beam.FlatMap(alerts_for, self.rules)
