"""Modality and source of claim: one sentence's cues and sources → (modality, who says it).

Order of precedence: confirmed (a confirmation) > denied (a denial, or a party's denial of the content) >
expected (planned, forecast) > hypothetical_or_concern > confirmed (a party speaks of its own side) > asserted
(relayed by a party's state media) > claimed (attributed or hedged) > asserted (the outlet states it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.extraction.actors import party_speakers
from pipeline.extraction.mentions import SentenceFacts, SourceMention
from pipeline.extraction.ontology import Ontology, SourceSpec

# a name-like phrase after "according to" or before a reporting verb (when no known source matches)
_ACCORDING = re.compile(r"(?:according to|citing|per)\s+(?:the\s+|a\s+|an\s+)?(?P<who>(?:[A-Z][\w.&’'-]*(?:\s+|$)"
                        r"(?:of\s+|for\s+)?){1,6})")
_SAID_BY = re.compile(r"(?P<who>(?:[A-Z][\w.&’'-]*\s+){1,5})(?:has\s+|have\s+|had\s+)?(?:said|says|told|reported|"
                      r"claimed|claims|alleged|revealed|estimated|warned|announced|stated)\b")
_GENERIC_WHO = re.compile(r"^(?:The|This|That|It|He|She|They|We|I|But|And|In|On|At|As|Last|Earlier|Meanwhile|"
                          r"However|Previously)$")
_QUOTE_BEFORE = re.compile(r"[,\"”’»]\s*$")
_OBJECT_BEFORE = re.compile(r"\b(?:on|to|with|against|from|for|of|in|at|into|between|and|by)\s+(?:the\s+)?$",
                            re.IGNORECASE)
_PASSIVE_BEFORE = re.compile(r"\b(?:is|are|was|were|been|being)\s+(?:\w+\s+)?$", re.IGNORECASE)
_KOREAN_TOPIC = re.compile(r"(?:은|는)")
_POSTPOSITIONS = frozenset({"따르면"})
_EXPECTED_WINDOW = 60  # an expectation or hedge governs the event word when it comes before it or shortly after


@dataclass(frozen=True, slots=True)
class Attribution:
    """Who a sentence attributes its content to: a normalised name, its ontology entry and where it is named."""

    name: str | None
    spec: SourceSpec | None = None
    mention: SourceMention | None = None


def _source_of(facts: SentenceFacts, text: str) -> SourceMention | None:
    """The source a reporting cue points at: "according to X", "X에 따르면", "X은 … 밝혔다", "X said", ", said X"."""
    for s, e in facts.cues.get("attribution_prep", []):
        if text[s:e] in _POSTPOSITIONS:
            before = [m for m in facts.sources if m.end <= s and s - m.end <= 25]
            if before:
                return before[-1]
        else:
            after = [m for m in facts.sources if 0 <= m.start - e <= 8]
            if after:
                return after[0]
    verbs = facts.cues.get("attribution", [])
    if not verbs:
        return None
    last_verb = max(s for s, _ in verbs)
    topics = [m for m in facts.sources if m.end <= last_verb and _KOREAN_TOPIC.match(text, m.end)]
    if topics:
        return topics[-1]  # Korean topic nearest the verb: "북한은 … 국정원은 보고했다" → 국정원
    return _subject_of(facts, text, verbs)


def _subject_of(facts: SentenceFacts, text: str, verbs: list[tuple[int, int]]) -> SourceMention | None:
    """The source nearest before a reporting verb, or right after it in ", said the ministry"."""
    best: tuple[int, SourceMention] | None = None
    for s, e in verbs:
        after_quote = bool(_QUOTE_BEFORE.search(text, max(0, s - 4), s))
        for m in facts.sources:
            if _OBJECT_BEFORE.search(text, max(0, m.start - 12), m.start):
                continue  # "sanctions on North Korea", "troops to Russia": not who speaks
            if not after_quote and m.end <= s and s - m.end <= 50:
                if _PASSIVE_BEFORE.search(text, m.end, s):
                    continue  # "North Korea has been accused of …": the topic, not the speaker
                distance = s - m.end
            elif after_quote and m.start >= e and m.start - e <= 25:
                distance = m.start - e + 10
            else:
                continue
            if best is None or distance < best[0]:
                best = (distance, m)
    return best[1] if best is not None else None


def find_source(facts: SentenceFacts, text: str, ontology: Ontology) -> Attribution:
    """Who the sentence attributes its content to (normalised through the ontology's sources), if anyone."""
    mention = _source_of(facts, text)
    if mention is not None:
        spec = ontology.sources[mention.index]
        return Attribution(spec.name, spec, mention)
    for pattern in (_ACCORDING, _SAID_BY):
        m = pattern.search(facts.sentence.text)
        if m:
            who = m.group("who").strip().rstrip(",.")
            if who and not _GENERIC_WHO.match(who.split()[0]):
                return Attribution(who[:80])
    return Attribution(None)


def party_voice(facts: SentenceFacts, ontology: Ontology) -> str | None:
    """The first party voice named in the sentence (the DPRK or Russian state, a leader, a ministry)."""
    for mention in facts.sources:
        spec = ontology.sources[mention.index]
        if spec.party:
            return spec.name
    return None


def decide_modality(facts: SentenceFacts, said: Attribution, event_type: str, codes: set[str],
                    trigger_lexicons: list[str], ontology: Ontology) -> tuple[str, str | None]:
    """(modality, source_of_claim) of an event of `event_type` stated in this sentence, attributed to `said`."""
    party = party_voice(facts, ontology)
    speaking = party_speakers(facts, ontology)  # party voices that are the nearest source to a confirm/deny cue
    if event_type == "official_confirmation":
        return "confirmed", party or said.name
    denies = event_type != "sanctions_or_condemnation" and facts.has("deny") and bool(speaking)
    if event_type == "official_denial" or denies:
        return "denied", party or said.name
    hits = facts.lex.get(trigger_lexicons[0]) if trigger_lexicons else None
    limit = (hits[0][0] if hits else facts.sentence.start) + _EXPECTED_WINDOW  # the event word, and a little after
    if any(s < limit for s, _ in facts.cues.get("expected", ())):
        return "expected", said.name
    cues = facts.cues
    if any(e <= limit for _, e in cues.get("concern", ())) or (
            any(e <= limit for _, e in cues.get("modal", ())) and ("belief" in cues or not said.name)):
        return "hypothetical_or_concern", said.name
    negated = "negated_say" in cues
    if said.spec and said.spec.party and said.spec.code in codes and not negated:
        return "confirmed", said.name
    if speaking and facts.has("confirm") and not negated:
        return "confirmed", party  # "Kim Jong Un acknowledged that …", even as relayed by state media
    if said.spec and said.spec.state_media:
        return "asserted", said.name
    if said.name or {"hedge", "attribution", "attribution_prep"} & facts.cues.keys():
        return "claimed", said.name
    return "asserted", None
