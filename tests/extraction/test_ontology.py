"""The ontology is data: it loads, validates, names every event type, and rejects broken files."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import get_args

import pytest
import yaml

from pipeline.extraction import OntologyError, load_ontology
from pipeline.extraction.ontology import DEFAULT_PATH
from schemas.records import EventType


def test_every_event_type_is_defined_with_codes(ontology):
    assert set(ontology.event_types) == set(get_args(EventType))
    for name, spec in ontology.event_types.items():
        assert spec.definition and spec.plover and spec.cameo, name
        assert spec.rules or name == "other", name


def test_core_actors_places_weapons_and_sources(ontology):
    codes = {a.code for a in ontology.spec.actors}
    assert {"PRK", "RUS", "UKR", "KOR", "USA", "JPN", "CHN"} <= codes
    places = {p.name: p for p in ontology.places}
    for name in ("Kursk", "Belgorod", "Donetsk", "Vladivostok", "Rason", "Rajin", "Khasan", "Vostochny Cosmodrome",
                 "Pyongyang", "Moscow"):
        assert name in places and places[name].lat is not None, name
    weapons = {w.id for w in ontology.weapons}
    assert {"KN-23", "M1991 240 mm MRL"} <= weapons
    sources = {s.name for s in ontology.sources}
    assert sources >= {"NIS", "JCS", "KCNA", "Kremlin", "GUR (Ukraine military intelligence)"}


def test_version_is_stamped_from_the_file(ontology):
    raw = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    assert ontology.version == raw["version"]


def test_pickle_round_trip_keeps_the_spec(ontology):
    clone = pickle.loads(pickle.dumps(ontology))
    assert clone.spec == ontology.spec and clone.version == ontology.version


def _write(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    raw = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    mutate(raw)
    path = tmp_path / "ontology.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("mutate, message", [
    (lambda raw: raw["event_types"].pop("casualties"), "missing"),
    (lambda raw: raw["event_types"]["casualties"]["rules"].append({"all": ["no_such_vocabulary"]}),
     "unknown vocabular"),
    (lambda raw: raw["lexicons"]["troops"].append("broken(["), "invalid pattern"),
    (lambda raw: raw["places"].append({"name": "Atlantis", "country": "ATL", "lat": 0, "lon": 0,
                                       "precision": "city", "aliases": ["atlantis"]}), "unknown country"),
    (lambda raw: raw.pop("version"), "version"),
])
def test_invalid_ontologies_are_rejected(tmp_path, mutate, message):
    with pytest.raises(OntologyError, match=message):
        load_ontology(_write(tmp_path, mutate))


def test_a_missing_file_is_an_ontology_error(tmp_path):
    with pytest.raises(OntologyError, match="cannot read"):
        load_ontology(tmp_path / "nope.yaml")


def test_a_modified_ontology_changes_the_output(tmp_path):
    from pipeline.extraction import extract
    from tests.extraction.conftest import article

    def drop_deployments(raw):  # type: ignore[no-untyped-def]
        raw["version"] = "test-1"
        raw["event_types"]["troop_deployment"]["rules"] = []

    custom = load_ontology(_write(tmp_path, drop_deployments))
    out = extract(article("North Korea sent 10,000 troops to Russia's Kursk region, the NIS said."), custom)
    assert out.ontology_version == "test-1"
    assert "troop_deployment" not in {e.type for e in out.events}
