"""The fixture articles describe themselves and cover what the eval gate is meant to guard."""

from __future__ import annotations

from typing import get_args

from schemas.records import EventType, Modality

REQUIRED = {"id", "description", "url", "outlet", "published", "title", "language", "text", "relevant",
            "event_groups", "events"}


def test_rows_are_well_formed(fixture_rows):
    assert 40 <= len(fixture_rows) <= 80
    assert len({r["id"] for r in fixture_rows}) == len(fixture_rows)
    for r in fixture_rows:
        assert r.keys() >= REQUIRED, r["id"]
        assert r["description"], r["id"]
        assert r["relevant"] or not r["events"], r["id"]
        for e in r["events"]:
            assert e["evidence"] in r["text"], (r["id"], e["evidence"])
            assert e["type"] in get_args(EventType) and e["modality"] in get_args(Modality), r["id"]


def test_coverage(fixture_rows):
    events = [e for r in fixture_rows for e in r["events"]]
    assert {e["type"] for e in events} >= set(get_args(EventType)) - {"other"}
    assert {e["modality"] for e in events} == set(get_args(Modality))
    assert {r["language"] for r in fixture_rows} >= {"en", "ru", "uk", "ko", "de", "fr"}
    negatives = [r for r in fixture_rows if not r["relevant"]]
    assert len(negatives) >= 15
    quantity_forms = {type(v).__name__ for e in events for v in e["quantities"].values()}
    assert quantity_forms == {"int", "list", "str"}     # single figures, ranges and vague amounts
    assert any(r["published"] is None for r in fixture_rows)
    assert any(r["published"] and len(r["published"]) == 7 for r in fixture_rows)
