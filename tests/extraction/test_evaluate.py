"""evaluate(): the metrics of issue 4, checked on hand-computed cases; and the printed report."""

from __future__ import annotations

import pytest

from pipeline.extraction.evaluate import evaluate, format_report, gold_numbers


def row(id_, text, relevant=True, events=(), published="2024-11-29"):
    return {"id": id_, "url": None, "outlet": "t", "published": published, "title": "", "language": "en",
            "text": text, "relevant": relevant, "event_groups": [], "events": list(events)}


def gold(type_, evidence, modality="claimed", actors=("PRK", "RUS"), location=None, quantities=None):
    return {"type": type_, "actors": list(actors), "location": location, "quantities": quantities or {},
            "event_date": None, "modality": modality, "source_of_claim": None, "evidence": evidence}


DEPLOY = "North Korea has sent about 12,000 troops to Russia's Kursk region, the NIS said."
VISIT = "Lavrov arrived in Pyongyang for talks with Choe Son Hui on Tuesday."
NEG = "North Korea fired a ballistic missile into the sea on Wednesday, the JCS said."


@pytest.fixture(scope="module")
def report(ontology):
    rows = [
        row("a", DEPLOY, events=[
            gold("troop_deployment", DEPLOY, location="Kursk region", quantities={"troops": 12000}),
            gold("casualties", DEPLOY, modality="asserted"),          # not predicted: a miss
            gold("other", DEPLOY)]),                                   # ignored
        row("b", VISIT, events=[
            gold("leader_meeting_or_visit", VISIT, modality="asserted", actors=("RUS", "PRK", "CHN"),
                 location="Pyongyang")]),
        row("c", NEG, relevant=False),
        row("d", "An article about the weather in Seoul.", relevant=True),                  # relevance miss
    ]
    return evaluate(rows, ontology)


def test_relevance_counts(report):
    rel = report["relevance"]
    assert (rel["tp"], rel["fp"], rel["fn"], rel["tn"]) == (2, 0, 1, 1)
    assert rel["precision"] == 1.0 and rel["recall"] == pytest.approx(2 / 3, abs=1e-4)


def test_event_type_pairs_ignore_other(report):
    et = report["event_types"]
    assert (et["tp"], et["fp"], et["fn"]) == (2, 0, 1)


def test_end_to_end_per_gold_event(report):
    e2e = report["end_to_end"]
    assert e2e["quantities"] == {"found": 1, "total": 1, "rate": 1.0}
    assert e2e["location"] == {"found": 2, "total": 2, "rate": 1.0}
    assert e2e["actors"]["total"] == 3 and e2e["actors"]["found"] == 1     # CHN is not in the visit sentence
    assert e2e["evidence"] == {"found": 2, "total": 3, "rate": round(2 / 3, 4)}
    assert e2e["modality"]["found"] == 2


def test_per_type_table_and_floors(report):
    assert set(report["per_type"]) == {"troop_deployment", "casualties", "leader_meeting_or_visit"}
    assert report["per_type"]["casualties"]["recall"] == 0.0
    assert report["floors"]["relevance_precision"]["ok"] is True
    assert report["floors"]["relevance_recall"]["ok"] is False
    text = format_report(report)
    for needle in ("relevance (articles)", "event types (pairs)", "leader_meeting_or_visit", "modality", "floor"):
        assert needle in text


@pytest.mark.parametrize("value, numbers", [
    (12000, {12000.0}), ([25000, 30000], {25000.0, 30000.0}), ("over 13,000", {13000.0}),
    ("1만5000여 명", {15000.0}), ("thousands", set()), ("$111M", {111_000_000.0}), (4.7, {4.7}), (None, set()),
])
def test_gold_numbers(value, numbers):
    assert gold_numbers(value) == numbers
