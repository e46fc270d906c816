"""Event extraction: (RawArticle, Ontology) → Extraction. A pure function: no clock, no network, no Beam.

Contract used by the rest of the project (keep these names and signatures):

- ``load_ontology(path: Path | None = None) -> Ontology`` — the versioned YAML ontology (default: the one
  shipped in this package); ``Ontology.version`` is stamped on every output.
- ``extract(article: RawArticle, ontology: Ontology) -> Extraction`` — relevance and events of one article.

Stages: text.split_sentences → mentions.analyse (matcher) → events.sentence_events (quantities, dates,
modality) → relevance.relevance. An irrelevant article is a normal outcome (``relevant=False``, no events).
"""

from __future__ import annotations

from pipeline.extraction.events import sentence_events
from pipeline.extraction.mentions import actor_mentions, analyse
from pipeline.extraction.ontology import Ontology, OntologyError, load_ontology
from pipeline.extraction.relevance import relevance
from schemas.records import ExtractedEvent, Extraction, RawArticle

__all__ = ["Ontology", "OntologyError", "candidate_events", "extract", "load_ontology"]


def candidate_events(article: RawArticle, ontology: Ontology) -> tuple[bool, float, list[ExtractedEvent]]:
    """(relevant, relevance score, every event found) — `extract` keeps the events of relevant articles only."""
    text = article.text or ""
    title = article.title or ""
    if ontology.focus_probe.search(text) is None and ontology.focus_probe.search(title) is None:
        return False, 0.0, []  # the focus state is never named: nothing to analyse
    facts = analyse(text, ontology)
    title_codes = {m.code for m in actor_mentions(title, ontology)}
    published = article.published.date() if article.published else None
    events = sentence_events(facts, text, title_codes, published, ontology)
    relevant, score = relevance(text, facts, title_codes, events, ontology)
    return relevant, score, events


def extract(article: RawArticle, ontology: Ontology) -> Extraction:
    """Relevance and events of one article; evidence offsets index ``article.text``."""
    relevant, score, events = candidate_events(article, ontology)
    return Extraction(id=article.id, relevant=relevant, relevance_score=score,
                      events=events if relevant else [], ontology_version=ontology.version)
