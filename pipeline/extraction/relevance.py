"""Relevance: analysed article + its candidate events → (relevant, score in [0, 1]).

An article is about the partnership (ontology `relevance`: focus PRK, partner RUS) when it states partnership
events, or names both states together in several sentences that are not lists ("Belarus, Russia and North
Korea voted against"). An article that names the focus state once in passing is not.
"""

from __future__ import annotations

import math

from pipeline.extraction.mentions import SentenceFacts, in_list
from pipeline.extraction.ontology import Ontology
from pipeline.extraction.places import place_codes
from schemas.records import ExtractedEvent

# weights of the evidence (a logistic score; 0.5 is the ontology's default threshold)
W_EVENT, W_OTHER, W_PAIR, W_TITLE, BIAS, PASSING = 1.3, 0.5, 0.3, 0.5, -1.0, -1.5
PASSING_MIN_SENTENCES = 5


def pair_sentences(text: str, facts_list: list[SentenceFacts], pair: frozenset[str], ontology: Ontology) -> int:
    """Sentences naming both states (or a place of theirs, Kursk for Russia), not inside a list of states."""
    return sum(1 for facts in facts_list
               if pair <= facts.codes() | place_codes(facts, ontology) and not in_list(text, facts, pair))


def relevance(text: str, facts_list: list[SentenceFacts], title_codes: set[str], events: list[ExtractedEvent],
              ontology: Ontology) -> tuple[bool, float]:
    focus, pair = ontology.relevance.focus, ontology.pair
    typed = sum(e.confidence for e in events if e.type != "other")
    other = sum(e.confidence for e in events if e.type == "other")
    focus_sentences = sum(focus in f.codes() for f in facts_list)
    if focus_sentences == 0 and focus not in title_codes:
        return False, 0.0
    x = (W_EVENT * typed + W_OTHER * other + W_PAIR * pair_sentences(text, facts_list, pair, ontology)
         + (W_TITLE if pair <= title_codes else 0.0) + BIAS)
    if focus_sentences <= 1 and focus not in title_codes and len(facts_list) >= PASSING_MIN_SENTENCES:
        x += PASSING  # a longer story that names the focus state once, in passing (a parade guest, a vote)
    score = 1.0 / (1.0 + math.exp(-3.0 * x))
    return score >= ontology.relevance.threshold, round(score, 4)
