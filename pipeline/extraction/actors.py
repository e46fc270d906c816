"""Actors of an event: one sentence's mentions + the event type's needs → actor codes, roles, and the checks on
who does what (direction of a transfer, who speaks a denial, whose troops, who meets whom)."""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet

from pipeline.extraction.mentions import SentenceFacts
from pipeline.extraction.ontology import EventTypeSpec, Ontology
from schemas.records import Actor, Location

_RECIPIENT_BEFORE = re.compile(r"(?:\bto|\binto|\breached|\bfor|\btowards|\bwith|\bsuppl\w*|\bprovid\w*|\bg[ai]ve\w*|"
                               r"\bsen(?:t|d|ds|ding)|\bdeliver\w*|\bhand\w*|\bship\w*)\s+(?:the\s+)?$", re.IGNORECASE)
_GIVER_BEFORE = re.compile(r"(?:\bfrom|\bby)\s+(?:the\s+)?$", re.IGNORECASE)
_GIVER_AFTER = re.compile(r"\s?(?:로부터|으로부터|에서)|[’']s\s+(?:transfer|supply|supplies|provision|export)",
                          re.IGNORECASE)
# a state that is the subject of a giving verb: "North Korea had delivered", "Iran answered …, supplying"
_GIVES_AFTER = re.compile(r"\s+(?:\w+\s+){0,4}?(?:has\s+|have\s+|had\s+|is\s+|was\s+|were\s+)?(?:also\s+)?"
                          r"(?:been\s+)?(?:delivered|delivers|delivering|supplied|supplies|supplying|provided|provides|"
                          r"providing|sent|sends|sending|shipped|ships|shipping|transferred|transfers|transferring|"
                          r"exported|exports|exporting|handed|gave|gives|giving)\b", re.IGNORECASE)
_EXCHANGE = re.compile(r"\bin (?:return|exchange)\b|대가|в обмін|в обмен|im Gegenzug", re.IGNORECASE)
# a visit's destination: "visited Russia", "arrived in Pyongyang", "trip to Moscow", "визит в КНДР"
_VISIT_BEFORE = re.compile(r"(?:visit\w*|trip|travel\w*|arriv\w*|tour\w*|landed|flew|came|went|depart\w*|left|head\w*|"
                           r"hosted|welcomed|received|summit|визит\w*|прибы\w+|посети\w+|візит\w*|прибу\w+|"
                           r"відвіда\w+|Besuch\w*|visite|wizyt\w*|kunjungan)\s+(?:[\w'’.-]+\s+){0,7}?"
                           r"(?:to|in|at|into|for|в|во|до|у|nach|à|en|dans|do|ke|di)?\s*(?:the\s+)?$", re.IGNORECASE)
_VISIT_AFTER = re.compile(r"\S{0,3}\s?(?:를|을)?\s?(?:방문|도착|찾)")
_ADJECTIVE_GAP = re.compile(r"(?:[’']s)?(?:\s+[^\W\d_][\w-]*){0,2}\s+")
_SPEECH_LEXICONS = ("confirm", "praise", "deny", "deny_negative")


def needs_met(spec: EventTypeSpec, codes: AbstractSet[str], context: AbstractSet[str], facts: SentenceFacts,
              ontology: Ontology) -> set[str] | None:
    """The actor codes that meet the type's needs (from the sentence, else its context, else implied), or
    None when a need is not met."""
    chosen: set[str] = set()
    for need in spec.needs:
        group = set(need.codes)
        if need.speaker:
            speakers = party_speakers(facts, ontology) & group
            if not speakers:
                return None
            chosen |= speakers
            continue
        if codes & group:
            chosen |= codes & group
        elif (need.context is True or (isinstance(need.context, str) and facts.has(need.context))) and context & group:
            chosen |= context & group
        elif need.implied:
            chosen.add(need.implied)
        else:
            return None
    return chosen


def party_speakers(facts: SentenceFacts, ontology: Ontology) -> set[str]:
    """Codes of party voices (a state speaking of its own side) that are the nearest source to a confirmation
    or denial cue: "Kim Jong Un confirmed" counts, "the Pentagon confirmed that North Korean troops" does not."""
    codes: set[str] = set()
    for cue in (s for lex in _SPEECH_LEXICONS for s, _ in facts.lex.get(lex, ())):
        nearest = min(facts.sources, key=lambda m: min(abs(m.start - cue), abs(m.end - cue)), default=None)
        if nearest is not None:
            spec = ontology.sources[nearest.index]
            if spec.party and spec.code:
                codes.add(spec.code)
    return codes


def wrong_direction(spec: EventTypeSpec, text: str, facts: SentenceFacts) -> bool:
    """Does the sentence name the type's giver as the one receiving ("Russia sent air defence systems to
    Pyongyang" is no DPRK→Russia weapons transfer)? A quid pro quo ("in return for") names both directions."""
    agents = {c for c, r in spec.roles.items() if r == "agent"}
    receivers = {c for c, r in spec.roles.items() if r == "recipient"}
    if not spec.directed or not agents or not receivers or _EXCHANGE.search(facts.sentence.text):
        return False
    recipients: set[str] = set()
    givers: set[str] = set()
    for a in facts.actors:
        before = text[max(0, a.start - 14):a.start]
        if _RECIPIENT_BEFORE.search(before):
            recipients.add(a.code)
        elif (_GIVER_BEFORE.search(before) or _GIVER_AFTER.match(text, a.end, a.end + 20)
              or _GIVES_AFTER.match(text, a.end, a.end + 45)):
            givers.add(a.code)
    return bool((recipients & agents and not recipients & receivers) or (givers & receivers and not givers & agents))


def foreign_troops_only(text: str, facts: SentenceFacts, focus: str) -> bool:
    """Are all troop nouns of the sentence qualified by another state ("Russian forces", "Ukraine's troops")?
    A noun that is itself a name of the focus state ("북한군") is not."""
    return all(_qualified_by_other(text, facts, s, focus) for s, _ in facts.lex.get("troops", ()))


def _qualified_by_other(text: str, facts: SentenceFacts, start: int, focus: str) -> bool:
    if any(a.code == focus and a.start <= start < a.end for a in facts.actors):
        return False
    return any(a.code != focus and a.kind in {"country", "city"} and a.end <= start and start - a.end <= 22
               and (a.end == start or _ADJECTIVE_GAP.fullmatch(text, a.end, start)) for a in facts.actors)


def side_present(text: str, facts: SentenceFacts, code: str) -> bool:
    """A party to a meeting: a person of that state, an official ("Russian Foreign Minister"), or a place of
    that state that is the destination of a visit ("arrived in Pyongyang")."""
    officials = facts.lex.get("officials", [])
    for a in facts.actors:
        if a.code != code:
            continue
        if a.kind == "person":
            return True
        if a.kind in {"country", "city"} and any(0 <= s - a.end <= 25 for s, _ in officials):
            return True
        if _VISIT_BEFORE.search(text[max(0, a.start - 60):a.start]) or _VISIT_AFTER.match(text, a.end, a.end + 8):
            return True
    return False


def roles(spec: EventTypeSpec, codes: set[str], location: Location | None) -> list[Actor]:
    """Each code with its role in this type of event; a state whose territory is the place is `location_of`."""
    actors = []
    for code in sorted(codes, key=lambda c: (c not in spec.roles, c)):
        role = spec.roles.get(code, spec.default_role)
        if code not in spec.roles and location is not None and location.country == code:
            role = "location_of"
        actors.append(Actor(code=code, role=role))
    return actors
