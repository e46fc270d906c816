"""Eval gate: extraction quality on our own fixture articles must not fall below pinned floors.

In the spirit of trafilatura's eval gate. The floors are the figures the extractor reached when they were set,
minus a small margin. DO NOT LOWER A FLOOR SILENTLY: a change that needs a lower floor must say why in its
commit message, and docs/quality.md must record the new figure. Raise floors when quality improves.
"""

from __future__ import annotations

import pytest

from pipeline.extraction.evaluate import evaluate, format_report

# fixture set: tests/fixtures/extraction/articles.jsonl (80 articles, 59 relevant, 73 labelled events)
FLOORS = {
    "relevance_precision": 0.97,
    "relevance_recall": 0.97,
    "event_type_f1": 0.95,
    "quantities": 0.95,
    "actors": 0.95,
    "location": 0.93,
    "evidence": 0.95,
    "modality": 0.92,
}


@pytest.fixture(scope="module")
def report(ontology, fixture_rows):
    return evaluate(fixture_rows, ontology)


@pytest.mark.parametrize("metric", sorted(FLOORS))
def test_quality_floor(report, metric):
    value = report["floors"][metric]["value"]
    assert value is not None and value >= FLOORS[metric], f"{metric} = {value} < {FLOORS[metric]}\n" + format_report(
        report)


def test_the_gate_covers_every_measured_metric(report):
    assert set(FLOORS) == set(report["floors"])
