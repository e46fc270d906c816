"""Event extraction: (RawArticle, Ontology) → Extraction. A pure function: no clock, no network, no Beam.

Contract used by the rest of the project (keep these names and signatures):

- ``load_ontology(path: Path | None = None) -> Ontology`` — the versioned YAML ontology (default: the one
  shipped in this package); ``Ontology.version`` is stamped on every output.
- ``extract(article: RawArticle, ontology: Ontology) -> Extraction`` — relevance and events of one article.
"""

from __future__ import annotations

from pathlib import Path

from schemas.records import Extraction, RawArticle

ONTOLOGY_VERSION = "0.0-skeleton"


class Ontology:
    """Placeholder until the real ontology lands: only a version and two keyword sets."""

    version = ONTOLOGY_VERSION
    dprk = ("north korea", "dprk", "pyongyang", "kim jong un")
    russia = ("russia", "moscow", "kremlin", "putin")


def load_ontology(path: Path | None = None) -> Ontology:
    return Ontology()


def extract(article: RawArticle, ontology: Ontology) -> Extraction:
    text = f"{article.title}\n{article.text}".lower()
    both = any(k in text for k in ontology.dprk) and any(k in text for k in ontology.russia)
    return Extraction(id=article.id, relevant=both, relevance_score=1.0 if both else 0.0, events=[],
                      ontology_version=ontology.version)
