"""Event typing: analysed sentences → ExtractedEvent list (type, actors, place, figures, date, modality, evidence).

A sentence yields an event of a type when one of the type's rules matches (every named vocabulary occurs,
close enough together), the type's actor needs are met in the sentence or, where allowed, in its context,
and no type-specific check vetoes it. One sentence can state events of several types.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from datetime import date

from pipeline.extraction.actors import foreign_troops_only, needs_met, roles, side_present, wrong_direction
from pipeline.extraction.dates import resolve_date
from pipeline.extraction.mentions import SentenceFacts, in_list
from pipeline.extraction.modality import Attribution, decide_modality, find_source
from pipeline.extraction.ontology import EventTypeSpec, Ontology
from pipeline.extraction.places import STATEMENTS, choose_location, place_codes
from pipeline.extraction.quantities import QuantityMention, anchors_in, find_quantities
from schemas.records import Evidence, ExtractedEvent, Quantity

_RELATIVE_CLAUSE = re.compile(r"\b(?:which|who)\s+(?:had\s+|has\s+|have\s+)?(?:signed|inked|concluded)\b",
                              re.IGNORECASE)
# types that a list of states ("Russia, Belarus and North Korea voted against") cannot state
_NOT_FROM_LISTS = frozenset({"sanctions_or_condemnation", "leader_meeting_or_visit", "official_denial",
                             "treaty_or_agreement", "economic_cooperation", "other"})
_TROOP_TYPES = frozenset({"troop_deployment", "casualties", "military_exercise_or_training"})
_CONTEXT_SENTENCES = 2
_MAX_CONFIDENCE = 0.95


def _near(facts: SentenceFacts, lexicons: list[str], window: int) -> bool:
    """Some hit of every vocabulary lies within `window` characters of a hit of the first one."""
    for s, _ in facts.lex[lexicons[0]]:
        if all(any(abs(s2 - s) <= window for s2, _ in facts.lex[lex]) for lex in lexicons[1:]):
            return True
    return False


def _rule_match(facts: SentenceFacts, spec: EventTypeSpec) -> tuple[float, list[str]] | None:
    present = facts.lex.keys()
    for rule in spec.rules:
        if present >= rule.all_set and present.isdisjoint(rule.none) and (
                rule.near is None or _near(facts, rule.all, rule.near)):
            return rule.confidence, rule.all
    return None


def _candidate_types(facts: SentenceFacts, ontology: Ontology) -> list[str]:
    """The types whose rules could match: those led by a vocabulary the sentence contains (ontology order)."""
    names = {name for lexicon in facts.lex for name in ontology.types_by_lexicon.get(lexicon, ())}
    return sorted(names, key=ontology.type_order.__getitem__)


def _context_codes(facts_list: list[SentenceFacts], i: int, title_codes: set[str]) -> set[str]:
    codes = set(title_codes)
    for j in range(max(0, i - _CONTEXT_SENTENCES), i):
        codes |= facts_list[j].codes()
    return codes


def _negated(facts: SentenceFacts, lexicon: str, window: int) -> bool:
    """Every hit of `lexicon` has a negation within `window` characters before it ("has not confirmed")."""
    hits = facts.lex.get(lexicon, [])
    negations = [ns for ns, _ in facts.lex.get("negation", ())]
    return bool(hits) and all(any(s - window <= ns < s for ns in negations) for s, _ in hits)


def _vetoed(name: str, spec: EventTypeSpec, text: str, facts: SentenceFacts, ontology: Ontology) -> bool:
    """Type-specific checks that the vocabulary alone cannot express."""
    if wrong_direction(spec, text, facts):
        return True
    if name == "leader_meeting_or_visit" and not facts.has("dyad") and not all(
            any(side_present(text, facts, code) for code in need.codes) for need in spec.needs):
        return True
    if name == "treaty_or_agreement" and _RELATIVE_CLAUSE.search(facts.sentence.text):
        return True  # "Russia and North Korea, which signed a pact in 2024, …": background
    if name == "official_confirmation" and _negated(facts, "confirm", 100):
        return True
    if name == "sanctions_or_condemnation" and _negated(facts, "condemn", 20):
        return True
    if name in _TROOP_TYPES and facts.has("troops") and foreign_troops_only(text, facts, ontology.relevance.focus):
        return True
    return name in _NOT_FROM_LISTS and in_list(text, facts, ontology.pair)


def _figures(mentions: list[QuantityMention], spec: EventTypeSpec) -> dict[str, Quantity]:
    """The type's figures; a second, different figure of the same name becomes name_2."""
    out: dict[str, Quantity] = {}
    for q in mentions:
        if q.name not in spec.quantities:
            continue
        key, n = q.name, 2
        while key in out and out[key] != q.quantity:
            key, n = f"{q.name}_{n}", n + 1
        out.setdefault(key, q.quantity)
    return out


def sentence_events(facts_list: list[SentenceFacts], text: str, title_codes: set[str], published: date | None,
                    ontology: Ontology) -> list[ExtractedEvent]:
    """All events stated in the article, in text order (at most one per type and sentence)."""
    events: list[ExtractedEvent] = []
    for i, facts in enumerate(facts_list):
        if not facts.lex:
            continue
        codes = facts.codes() | place_codes(facts, ontology)
        context = _context_codes(facts_list, i, title_codes)
        quantities: list[QuantityMention] | None = None
        said: Attribution | None = None
        for name in _candidate_types(facts, ontology):
            spec = ontology.event_types[name]
            matched = _rule_match(facts, spec)
            if matched is None:
                continue
            chosen = needs_met(spec, codes, context, facts, ontology)
            if chosen is None or _vetoed(name, spec, text, facts, ontology):
                continue
            if quantities is None or said is None:
                start, end = facts.sentence.start, facts.sentence.end
                anchors = anchors_in(text, start, end, facts.cues.get("number_word", []), facts.cues.get("vague", []))
                quantities = find_quantities(text, start, end, ontology.quantity_after_re,
                                             ontology.quantity_before_re, ontology.quantity_names, anchors)
                said = find_source(facts, text, ontology)
            events.append(_event(name, spec, matched, chosen, codes, _without_speaker(codes, facts, said, name),
                                 facts, text, quantities, said, published, ontology))
    return events


def _without_speaker(codes: AbstractSet[str], facts: SentenceFacts, said: Attribution,
                     event_type: str) -> AbstractSet[str]:
    """The sentence's states minus the one that only reports the event ("…, the Pentagon said"); in a statement
    (denial, condemnation) the speaker is the actor and stays."""
    m = said.mention
    if m is None or event_type in STATEMENTS:
        return codes
    inside = {a.code for a in facts.actors if m.start <= a.start < m.end}
    outside = {a.code for a in facts.actors if not m.start <= a.start < m.end}
    return codes - (inside - outside)


def _event(name: str, spec: EventTypeSpec, matched: tuple[float, list[str]], chosen: set[str],
           codes: AbstractSet[str], actor_codes: AbstractSet[str], facts: SentenceFacts, text: str,
           quantities: list[QuantityMention], said: Attribution, published: date | None,
           ontology: Ontology) -> ExtractedEvent:
    """One event; `codes` are all states the sentence names, `actor_codes` those not merely reporting it."""
    base, lexicons = matched
    event_codes = chosen | (actor_codes - ontology.non_state_codes)
    modality, source = decide_modality(facts, said, name, event_codes, lexicons, ontology)
    location = choose_location(text, facts, ontology, name)
    figures = _figures(quantities, spec)
    in_sentence = all(set(n.codes) & codes for n in spec.needs)
    confidence = min(_MAX_CONFIDENCE, base + (0.1 if in_sentence else 0.0) + (0.05 if figures else 0.0))
    return ExtractedEvent(
        type=name,  # type: ignore[arg-type]
        actors=roles(spec, event_codes, location),
        location=location,
        quantities=figures,
        event_date=resolve_date(facts.sentence.text, published, future=modality == "expected"),
        modality=modality,  # type: ignore[arg-type]
        source_of_claim=source,
        evidence=Evidence(text=facts.sentence.text, start=facts.sentence.start, end=facts.sentence.end),
        confidence=round(confidence, 3),
    )
