"""The processing graph, shared by the streaming job, `nkru replay` and tests: RawArticle → outputs.

`build_graph` wires the stages and returns their outputs; it does no I/O (sources and sinks are
injected by the caller): extract → deduplicate → explode mentions → merge events → raise alerts,
with every stage's failures gathered into one dead-letter PCollection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import apache_beam as beam
from apache_beam import pvalue

from pipeline.alerting import RaiseAlerts, load_rules
from pipeline.dedup import DeduplicateArticles
from pipeline.extraction import load_ontology
from pipeline.live import MergeAndAlert
from pipeline.merge import MergeEvents
from pipeline.stages import DEAD, ExplodeMentions, ExtractEvents


@dataclass(frozen=True)
class GraphConfig:
    """What the graph needs besides its input; picklable (it travels to workers)."""

    ontology_path: Path | None = None
    rules_path: Path | None = None
    options: dict = field(default_factory=dict)
    layout: str = "sharded"  # of the stateful folds: "sharded" or "single" (`DeduplicateArticles`, `pipeline.live`)

    def ontology(self):
        return load_ontology(self.ontology_path)

    def rules(self):
        return load_rules(self.rules_path)


@dataclass
class GraphOutputs:
    enriched: beam.PCollection
    mentions: beam.PCollection
    events: beam.PCollection  # each event's latest state after each flush that added to it
    alerts: beam.PCollection
    dead_letters: beam.PCollection


def build_graph(articles: beam.PCollection, config: GraphConfig, upstream_dead: list | None = None) -> GraphOutputs:
    """Wire the stages onto `articles` (a PCollection of RawArticle); return every output."""
    ontology = config.ontology()
    extracted = articles | "ExtractEvents" >> ExtractEvents(ontology)
    enriched = extracted[ExtractEvents.MAIN] | "DeduplicateArticles" >> DeduplicateArticles(layout=config.layout)
    mentions = enriched | "ExplodeMentions" >> ExplodeMentions()
    if config.layout == "single":
        merged = mentions | "MergeAndAlert" >> MergeAndAlert(config.rules())
        alerts = merged["alerts"]
    else:
        merged = mentions | "MergeEvents" >> MergeEvents()
        alerts = merged["revisions"] | "RaiseAlerts" >> RaiseAlerts(config.rules())
    dead = [extracted[DEAD], *(upstream_dead or [])]
    dead_letters = tuple(dead) | "GatherDeadLetters" >> beam.Flatten()
    return GraphOutputs(enriched=enriched, mentions=mentions, events=merged["events"], alerts=alerts,
                        dead_letters=dead_letters)


__all__ = ["GraphConfig", "GraphOutputs", "build_graph", "pvalue"]
