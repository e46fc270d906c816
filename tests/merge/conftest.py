"""Factories for event mentions and articles with events, and a harness that runs a transform on Prism.

Prism (the pinned runner) runs Python `TestStream` in streaming mode, but not `beam.Create` there (its
reshuffle is a Python-only transform), and so not `assert_that`, which is built on Create. So pipeline tests
feed a `TestStream` (streaming) or `Create` (batch) and collect outputs with `WriteEachFn`, one file per
element, read after the pipeline has finished.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import apache_beam as beam
import pytest

from pipeline.runners import runner_options
from pipeline.stages import stable_id
from schemas.records import (
    Actor,
    EnrichedArticle,
    EventMention,
    Evidence,
    ExtractedEvent,
    Location,
    Quantity,
    RawArticle,
    parse_timestamp,
)

PLACES = {
    "Kursk": Location(name="Kursk", country="RUS", lat=51.73, lon=36.19, precision="region"),
    "Pyongyang": Location(name="Pyongyang", country="PRK", lat=39.04, lon=125.76, precision="city"),
    "Moscow": Location(name="Moscow", country="RUS", lat=55.75, lon=37.62, precision="city"),
    "Russia": Location(name="Russia", country="RUS", lat=61.5, lon=105.3, precision="country"),
    "Ukraine": Location(name="Ukraine", country="UKR", lat=49.0, lon=31.4, precision="country"),
    "Kyiv": Location(name="Kyiv", country="UKR", lat=50.45, lon=30.52, precision="city"),
    "Rajin": Location(name="Rajin", country="PRK", lat=42.24, lon=130.28, precision="city"),
    "Dunai": Location(name="Dunai", country="RUS", lat=42.89, lon=132.34, precision="city"),
}


def event(type="troop_deployment", actors=("PRK", "RUS"), place=None, quantities=None, event_date=None,
          modality="claimed", source=None, start=0, text="evidence sentence") -> ExtractedEvent:
    return ExtractedEvent(
        type=type, actors=[Actor(code=c) for c in actors], location=PLACES.get(place) if place else None,
        quantities={k: Quantity(low=v[0], high=v[1]) if isinstance(v, tuple) else Quantity(low=v, high=v)
                    for k, v in (quantities or {}).items()},
        event_date=event_date, modality=modality, source_of_claim=source,
        evidence=Evidence(text=text, start=start, end=start + len(text)), confidence=0.8)


def mention(article_id, published="2024-10-18T09:00:00Z", index=0, cluster=None, duplicate_of=None, title=None,
            fetched_at=None, **kw):
    e = event(**kw)
    return EventMention(mention_id=stable_id(article_id, str(index), e.type), article_id=article_id,
                        url=f"https://example.test/{article_id}", outlet=f"outlet-{article_id}",
                        published=parse_timestamp(published) if published else None,
                        fetched_at=parse_timestamp(fetched_at) if fetched_at else None,
                        cluster_id=cluster or article_id, duplicate_of=duplicate_of, title=title, event=e,
                        ontology_version="t")


def article(article_id, text, published="2024-10-18T09:00:00Z", events=(), url=None, title="") -> EnrichedArticle:
    return EnrichedArticle(article=RawArticle(id=article_id, url=url or f"https://{article_id}.example/a",
                                              title=title, text=text, published=published),
                           relevant=bool(events), relevance_score=1.0 if events else 0.0, events=list(events),
                           ontology_version="t")


@pytest.fixture
def places():
    return PLACES


@pytest.fixture
def make_mention():
    return mention


@pytest.fixture
def make_event():
    return event


@pytest.fixture
def make_article():
    return article


class WriteEachFn(beam.DoFn):
    """Each element → one JSON file in `directory` (outputs of a pipeline test, read after it has finished)."""

    def __init__(self, directory: str):
        self.directory = directory

    def process(self, element):
        body = element.model_dump_json() if hasattr(element, "model_dump_json") else repr(element)
        (Path(self.directory) / f"{uuid.uuid4().hex}.json").write_text(body, encoding="utf-8")


def run_pipeline(source, transform, out_dir: Path, streaming: bool) -> list[str]:
    """Run `source | transform` on Prism; return the outputs (JSON or repr), sorted."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pipeline = beam.Pipeline(options=runner_options("prism", streaming=streaming))
    outputs = pipeline | "Source" >> source | "Under test" >> transform
    outputs | "Collect" >> beam.ParDo(WriteEachFn(str(out_dir)))
    result = pipeline.run()
    result.wait_until_finish()
    run_pipeline.last_result = result
    return sorted(path.read_text(encoding="utf-8") for path in out_dir.glob("*.json"))


@pytest.fixture
def prism(prism_binary, tmp_path):
    """run(source, transform, streaming=...) → sorted outputs; `run.last_result` is the PipelineResult."""
    counter = iter(range(1_000))

    def run(source, transform, streaming=True):
        out = run_pipeline(source, transform, tmp_path / f"run{next(counter)}", streaming)
        run.last_result = run_pipeline.last_result
        return out

    return run
