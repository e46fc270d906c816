"""Shared fixtures of the extraction tests: the shipped ontology (compiled once) and the fixture articles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.extraction import Ontology, load_ontology
from schemas.records import RawArticle

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "extraction" / "articles.jsonl"


@pytest.fixture(scope="session")
def ontology() -> Ontology:
    return load_ontology()


@pytest.fixture(scope="session")
def fixture_rows() -> list[dict]:
    return [json.loads(line) for line in FIXTURES.read_text(encoding="utf-8").splitlines() if line.strip()]


def article(text: str, title: str = "", published: str | None = "2024-11-29", id_: str = "t") -> RawArticle:
    """A RawArticle for a test sentence (Friday 29 November 2024 unless told otherwise)."""
    return RawArticle(id=id_, title=title, text=text, published=published)
