"""feedparser's ~2,100 test feeds through parse_document: no exception, every file and entry accounted for,
nothing executable in any article text, title or URL."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from connectors.feeds.parse import entry_dead_letters, parse_document

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "feedparser-tests"
EXECUTABLE = re.compile(r"<\s*script|javascript\s*:|vbscript\s*:|<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
HEADER = re.compile(r"^\s*Header:\s*([^:]+):\s*(.*)$", re.MULTILINE)


def _headers(data: bytes) -> dict[str, str]:
    head = data[:3000].decode("latin-1")
    return {name.strip(): value.strip() for name, value in HEADER.findall(head)}


def test_every_corpus_file_is_accounted_for_and_clean():
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix in (".xml", ".json", ".rdf", ".atom"))
    assert len(files) > 2000, f"feedparser corpus missing at {CORPUS}"
    fetched_at = datetime(2025, 1, 1, tzinfo=UTC)
    reasons: Counter[str] = Counter()
    articles = 0
    unaccounted, executable = [], []
    for path in files:
        data = path.read_bytes()
        doc = parse_document(data, ref=str(path), fetched_at=fetched_at, headers=_headers(data))
        reasons.update(doc.reasons)
        articles += len(doc.articles)
        if len(doc.articles) + entry_dead_letters(doc) + doc.duplicates + doc.skipped != doc.entries:
            unaccounted.append(path.name)
        if doc.entries == 0 and not doc.articles and not doc.dead_letters and not doc.format:
            unaccounted.append(path.name)  # neither a feed nor a dead letter
        for article in doc.articles:
            for value in (article.title, article.text, article.url or "", article.id):
                if EXECUTABLE.search(value):
                    executable.append((path.name, value[:120]))
    assert not unaccounted, unaccounted[:20]
    assert not executable, executable[:20]
    assert articles > 400  # the corpus' entries mostly become articles
    sanitize = CORPUS / "wellformed" / "sanitize"
    assert sum(1 for _ in sanitize.glob("*.xml")) > 700  # the hostile-markup cases were part of the run
    assert reasons["ill_formed"] > 0 and reasons["encoding"] > 0 and reasons["not_a_feed"] > 0
