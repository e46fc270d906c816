"""extract(): the contract (pure, deterministic, versioned), evidence offsets, actors, places and modality."""

from __future__ import annotations

import pickle

import pytest

from pipeline.extraction import extract
from pipeline.extraction.mentions import actor_mentions
from tests.extraction.conftest import article


def events_of(text, ontology, title="", published="2024-11-29"):
    out = extract(article(text, title, published), ontology)
    return {e.type: e for e in out.events}


def test_contract_version_determinism_and_pickling(ontology):
    a = article("North Korea has sent about 10,000 troops to Russia, the Pentagon said on Monday.")
    first = extract(a, ontology)
    assert first.ontology_version == ontology.version and first.id == "t"
    assert first.relevant and first.events
    assert extract(a, ontology) == first
    assert extract(a, pickle.loads(pickle.dumps(ontology))) == first


def test_irrelevant_articles_carry_no_events(ontology):
    out = extract(article("Russian and Chinese warships held drills near Vladivostok on Sunday."), ontology)
    assert out.relevant is False and out.events == [] and out.relevance_score == 0.0
    empty = extract(article(""), ontology)
    assert empty.relevant is False and empty.events == []


def test_evidence_offsets_index_the_text_exactly(ontology, fixture_rows):
    from pipeline.extraction.evaluate import article_from_row

    checked = 0
    for row in fixture_rows:
        text = row["text"]
        for e in extract(article_from_row(row), ontology).events:
            assert e.evidence.text == text[e.evidence.start:e.evidence.end]
            checked += 1
    assert checked >= 60


def test_evidence_offsets_with_leading_space_bullets_and_crlf(ontology):
    text = "\r\n  • Headline\r\n\r\n- North Korea dispatched 1,500 special forces to Russia’s Far East, the NIS said."
    out = extract(article(text), ontology)
    e = out.events[0]
    assert text[e.evidence.start:e.evidence.end] == e.evidence.text
    assert e.evidence.text.startswith("North Korea dispatched")


@pytest.mark.parametrize("name, code", [
    ("North Korea", "PRK"), ("N. Korea", "PRK"), ("DPRK", "PRK"), ("КНДР", "PRK"), ("Північна Корея", "PRK"),
    ("북한", "PRK"), ("Pyongyang", "PRK"), ("Kim Jong-un", "PRK"), ("Ким Чен Ын", "PRK"), ("김정은", "PRK"),
    ("Nordkorea", "PRK"), ("Korea Utara", "PRK"), ("the Kremlin", "RUS"), ("Россия", "RUS"), ("Росія", "RUS"),
    ("러시아", "RUS"), ("Sergei Lavrov", "RUS"), ("Kyiv", "UKR"), ("Україна", "UKR"), ("Budanov", "UKR"),
    ("South Korea's spy agency", "KOR"), ("국정원", "KOR"), ("the Pentagon", "USA"),
])
def test_actor_names_in_several_languages(ontology, name, code):
    assert code in {m.code for m in actor_mentions(f"Statement: {name} ", ontology)}


def test_south_korea_is_not_north_korea(ontology):
    codes = {m.code for m in actor_mentions("South Korea and the Republic of Korea (Республика Корея)", ontology)}
    assert codes == {"KOR"}


def test_roles_and_directions(ontology):
    ev = events_of("Russia transferred air defence systems to North Korea, the NIS said.", ontology)
    assert "technology_transfer" in ev and "weapons_transfer" not in ev
    roles = {a.code: a.role for a in ev["technology_transfer"].actors}
    assert roles["RUS"] == "agent" and roles["PRK"] == "recipient"
    ev = events_of("North Korea shipped artillery shells to Russia, according to the JCS.", ontology)
    assert "weapons_transfer" in ev and "technology_transfer" not in ev
    assert {a.code: a.role for a in ev["weapons_transfer"].actors} == {"PRK": "agent", "RUS": "recipient"}


def test_prisoners_imply_ukraine_as_captor(ontology):
    ev = events_of("Two North Korean soldiers were captured in the Kursk region last week.", ontology)
    assert {a.code: a.role for a in ev["prisoners_captured"].actors}["UKR"] == "agent"


@pytest.mark.parametrize("text, place", [
    ("North Korean troops are fighting in the Kursk region, Seoul said.", "Kursk"),
    ("Військові КНДР дислокуються в Курській області, повідомила розвідка.", "Kursk"),
    ("Lavrov arrived in Pyongyang for talks with Choe Son Hui.", "Pyongyang"),
    ("North Korea sent 2,000 containers of munitions to Russia, Reuters reported.", "Russia"),
    ("Putin met Kim Jong Un at the Vostochny Cosmodrome.", "Vostochny Cosmodrome"),
])
def test_places(ontology, text, place):
    located = [e.location for e in extract(article(text), ontology).events if e.location]
    assert located and located[0].name == place
    assert located[0].lat is not None and located[0].country


def test_capitals_as_speakers_are_not_places(ontology):
    ev = events_of("Moscow said North Korean troops had not been sent to Russia at all, calling it fake news.",
                   ontology)
    assert all(e.location is None or e.location.name != "Moscow" for e in ev.values())


@pytest.mark.parametrize("text, event_type, modality", [
    ("North Korea sent about 10,000 troops to Russia, the Pentagon said.", "troop_deployment", "claimed"),
    ("North Korea reportedly sent troops to the Kursk region.", "troop_deployment", "claimed"),
    ("North Korean troops arrived in the Kursk region last week.", "troop_deployment", "asserted"),
    ("North Korea plans to send 5,000 more troops to Russia.", "troop_deployment", "expected"),
    ("Analysts fear North Korea could send more troops to Russia.", "troop_deployment", "hypothetical_or_concern"),
    ("The Kremlin denied reports of North Korean troops in Russia as fake news.", "official_denial", "denied"),
    ("Kim Jong Un acknowledged that North Korean soldiers fought in the Kursk region.", "official_confirmation",
     "confirmed"),
    ("Lavrov met Kim Jong Un in Pyongyang, the Russian foreign ministry said.", "leader_meeting_or_visit",
     "confirmed"),
    ("Shoigu and Kim Jong Un watched a parade in Pyongyang, KCNA reported.", "leader_meeting_or_visit", "asserted"),
])
def test_modality(ontology, text, event_type, modality):
    assert events_of(text, ontology)[event_type].modality == modality


@pytest.mark.parametrize("text, source", [
    ("North Korea has sent about 12,000 troops to Russia, South Korea's National Intelligence Service said.", "NIS"),
    ("According to Ukraine's military intelligence, North Korean troops are fighting in Kursk.",
     "GUR (Ukraine military intelligence)"),
    ("국정원은 북한이 러시아에 1만 명을 파병했다고 밝혔다.", "NIS"),
    ("Kyrylo Budanov said North Korea had delivered 120 howitzers to Russia.", "Kyrylo Budanov"),
])
def test_source_of_claim_is_normalised(ontology, text, source):
    assert {e.source_of_claim for e in extract(article(text), ontology).events} == {source}


def test_hard_negatives_stay_irrelevant(ontology):
    texts = [
        "Russia, Belarus, North Korea and Syria voted against the resolution, which passed with 93 votes.",
        "North Korea fired a ballistic missile into the sea, South Korea's military said.",
        "A South Korean missionary was detained in Vladivostok. He had helped North Korean workers there, his "
        "church said. Russian media called him a spy. Seoul asked for consular access. His family is worried.",
        "Ukrainian shelling killed two soldiers in the Kursk region, the Russian governor said.",
    ]
    assert [extract(article(t), ontology).relevant for t in texts] == [False] * len(texts)
