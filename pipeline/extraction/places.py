"""Place of an event: one sentence's place mentions + the event type → Location (most specific place) or None.

Capitals and countries count only after a locative word ("in Moscow", "to Russia"), since they usually name
governments; a statement (denial, confirmation, condemnation) happens where it is voiced (a forum, a dateline).
"""

from __future__ import annotations

import re

from pipeline.extraction.mentions import PlaceMention, SentenceFacts
from pipeline.extraction.ontology import Ontology
from schemas.records import Location

_LOCATIVE_BEFORE = re.compile(
    r"(?:\b(?:in|at|to|into|near|from|outside|around|across|throughout|inside|within|toward|towards|via|through|"
    r"visit\w*|arriv\w*|toured|reached|an|nach|dans|à|en|w|we|do|ke|di)|(?<!\w)(?:в|во|у|на|до|из|під|под|с|з))"
    r"\s+(?:(?:the|la|le|its|their|his|her|a|an|northern|southern|eastern|western|central|occupied|capital|city of|"
    r"port of|region of|border|frontline|front-line)\s+)*$", re.IGNORECASE)
_LOCATIVE_AFTER = re.compile(r"(?:에서|에|으로|로|을 방문|를 방문)")
_DATELINE_AFTER = re.compile(r"\s*(?:,|\(|—|–|-|:)")
_POSSESSIVES = ("’s", "'s", "ʼs")
_RANK = {"exact": 0.0, "city": 1.0, "region": 1.0, "country": 3.0}
_DATELINE_RANK = 3.5  # a dateline ("UNITED NATIONS (AFP) —") is the place of last resort
STATEMENTS = frozenset({"official_denial", "official_confirmation", "sanctions_or_condemnation"})


def place_codes(facts: SentenceFacts, ontology: Ontology) -> set[str]:
    """States whose territory the sentence names (Kursk → RUS); capitals and countries count as actors already."""
    return {ontology.places[p.index].country for p in facts.places if not p.metonym
            and ontology.places[p.index].precision != "country" and not ontology.places[p.index].metonymic}


def _is_dateline(text: str, facts: SentenceFacts, mention: PlaceMention) -> bool:
    """"MOSCOW (Reuters) —", "SEOUL, Nov 2 -": where the story was filed."""
    head = mention.start - facts.sentence.start <= 2
    return head and (mention.surface.isupper() or bool(_DATELINE_AFTER.match(text, mention.end)))


def choose_location(text: str, facts: SentenceFacts, ontology: Ontology, event_type: str) -> Location | None:
    """The most specific usable place of the sentence for an event of `event_type`."""
    mode = "statement" if event_type in STATEMENTS else "meeting" if event_type == "leader_meeting_or_visit" else ""
    key = ("location", mode)
    if key not in facts.memo:
        facts.memo[key] = _choose(text, facts, ontology, mode)
    return facts.memo[key]  # type: ignore[return-value]


def _choose(text: str, facts: SentenceFacts, ontology: Ontology, mode: str) -> Location | None:
    best: tuple[float, PlaceMention] | None = None
    theatre = set(ontology.relevance.theatre)
    for p in facts.places:
        place = ontology.places[p.index]
        dateline = _is_dateline(text, facts, p)
        locative = dateline or bool(_LOCATIVE_BEFORE.search(text, max(facts.sentence.start, p.start - 30), p.start)
                                    or _LOCATIVE_AFTER.match(text, p.end, p.end + 6))
        if mode == "statement" and place.forum:
            rank = -2.0 if not dateline else -1.0  # "told the UN", "at the Security Council"; else the dateline
        elif mode == "statement" and dateline:
            rank = -1.0
        elif dateline:
            if place.country not in theatre:
                continue  # "SEOUL (Yonhap) —": where the bureau is
            rank = _DATELINE_RANK
        elif (p.metonym and (not locative or text.startswith(_POSSESSIVES, p.end))) or (
                place.metonymic and place.country not in theatre and not mode):
            continue  # "Moscow said"; "analysts in Seoul": where people speak, not where it happens
        elif (place.precision == "country" or place.metonymic) and not locative:
            continue
        else:
            rank = _RANK[place.precision] - (0.5 if locative else 0.0)
        if best is None or rank < best[0]:
            best = (rank, p)
    return None if best is None else _as_location(best[1], ontology)


def _as_location(mention: PlaceMention, ontology: Ontology) -> Location:
    """The place as the text names it when that is readable Latin script ("Kursk", "Najin"), else its English
    name ("Курщина" → "Kursk"); countries always by their English name."""
    place = ontology.places[mention.index]
    surface = mention.surface
    readable = surface.isascii() and surface[:1].isupper() and (not surface.isupper() or len(surface) <= 4)
    name = surface if readable and place.precision != "country" else place.name
    return Location(name=name, country=place.country, lat=place.lat, lon=place.lon, precision=place.precision)
