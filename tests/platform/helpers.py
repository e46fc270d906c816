"""Helpers shared by the platform's integration tests."""

from __future__ import annotations

import time
from pathlib import Path

from schemas.records import RawArticle

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "platform" / "articles.jsonl"


def fixture_articles() -> list[RawArticle]:
    """The platform fixture's readable articles, one per id, in publication order."""
    unique: dict[str, RawArticle] = {}
    for line in FIXTURE.read_text().splitlines():
        try:
            article = RawArticle.model_validate_json(line)
        except ValueError:
            continue
        unique[article.id] = article
    return sorted(unique.values(), key=lambda a: a.published)


def wait_for(predicate, deadline_s: float, what: str) -> None:
    """Poll `predicate` until it holds; fail naming `what` after `deadline_s` seconds."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")
