"""Mentions: article text → sentences, each with its actors, places, sources, vocabulary and cue hits (offsets
index the text). One matcher pass over the text; overlapping names keep the longest."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, cast

from pipeline.extraction.matcher import longest_first
from pipeline.extraction.ontology import Ontology
from pipeline.extraction.text import Sentence, SentenceIndex, split_sentences

Span = tuple[int, int]
_LIST_GAP = re.compile(r"(?:\s*(?:,|and|or|&|и|та|і|및|,?\s*und|et)\s*)+(?:the\s+)?")
# a capital or a country used as a speaker or agent ("Seoul's spy agency", "Moscow said") is not a place
_METONYM_AFTER = re.compile(r"[’'ʼ]s\b|\s+(?:said|says|claims?|claimed|has|have|had|is|was|were|are|will|would|"
                            r"denied|denies|confirmed|confirms|accused|alleged|believes|insists|maintains|sent|"
                            r"dispatched|announced|reported|plans|wants)\b")


@dataclass(frozen=True, slots=True)
class ActorMention:
    code: str
    kind: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class PlaceMention:
    index: int
    start: int
    end: int
    surface: str
    metonym: bool


@dataclass(frozen=True, slots=True)
class SourceMention:
    index: int
    start: int
    end: int


@dataclass(slots=True)
class SentenceFacts:
    sentence: Sentence
    actors: list[ActorMention] = field(default_factory=list)
    places: list[PlaceMention] = field(default_factory=list)
    sources: list[SourceMention] = field(default_factory=list)
    lex: dict[str, list[Span]] = field(default_factory=dict)
    cues: dict[str, list[Span]] = field(default_factory=dict)
    actor_codes: frozenset[str] = frozenset()
    memo: dict[object, object] = field(default_factory=dict)  # per-sentence results shared by its event types

    def codes(self) -> frozenset[str]:
        return self.actor_codes

    def has(self, lexicon: str) -> bool:
        return lexicon in self.lex


def _resolve(hits: list[tuple[int, int, int, int]], ontology: Ontology) -> list[tuple[ActorMention, int]]:
    """(actor mention, sentence) from (start, end, actor key, sentence) hits, longest alias first; a bare
    surname ("Kim") counts only where its state is named too."""
    mentions = []
    for start, end, key, i in longest_first(hits):
        code, kind = ontology.actor_keys[key]
        mentions.append((ActorMention(code, kind, start, end), i))
    named = {m.code for m, _ in mentions if m.kind != "surname"}
    return [(m if m.kind != "surname" else ActorMention(m.code, "person", m.start, m.end), i)
            for m, i in mentions if m.kind != "surname" or m.code in named]


def actor_mentions(text: str, ontology: Ontology) -> list[ActorMention]:
    """Actors named in `text` (the longest alias wins where aliases overlap)."""
    hits = [(start, end, key, 0) for start, end, tags in ontology.matcher.find(text)
            for kind, key in cast(tuple[tuple[str, int], ...], tags) if kind == "actor"]
    return [m for m, _ in _resolve(hits, ontology)]


def in_list(text: str, facts: SentenceFacts, pair: frozenset[str]) -> bool:
    """Does the sentence name a state of `pair` inside a list of three or more states ("Belarus, Russia and
    North Korea voted against")? Such co-mentions say nothing about the pair's partnership."""
    countries = [a for a in facts.actors if a.kind == "country"]
    run = countries[:1]
    for prev, cur in zip(countries, countries[1:], strict=False):
        gap = _LIST_GAP.match(text, prev.end, cur.start)
        run = run + [cur] if gap is not None and gap.end() == cur.start else [cur]
        codes = {a.code for a in run}
        if len(codes) >= 3 and codes & pair:
            return True
    return False


def analyse(text: str, ontology: Ontology) -> list[SentenceFacts]:
    """Split `text` and attach every mention to its sentence."""
    sentences = split_sentences(text)
    facts = [SentenceFacts(s) for s in sentences]
    if not facts:
        return facts
    index = SentenceIndex(sentences)
    named: dict[str, list[tuple[int, int, int, int]]] = {"actor": [], "place": [], "source": []}
    i, current, limit = -1, -1, -1  # hits come in text order: follow the sentence they fall in
    for start, end, tags in ontology.matcher.find(text):
        if not current <= start < limit:
            found = index.at(start)
            if found is None:
                continue
            i = found
            current, limit = sentences[i].start, sentences[i].end
        f = facts[i]
        for kind, key in cast(tuple[tuple[str, Any], ...], tags):
            if kind == "lex" or kind == "cue":
                bucket = f.lex if kind == "lex" else f.cues
                spans = bucket.get(key)
                if spans is None:
                    bucket[key] = [(start, end)]
                else:
                    spans.append((start, end))
            else:
                named[kind].append((start, end, key, i))
    for mention, i in _resolve(named["actor"], ontology):
        facts[i].actors.append(mention)
        if mention.kind == "person":
            facts[i].lex.setdefault("people", []).append((mention.start, mention.end))
    for start, end, key, i in longest_first(named["place"]):
        spec = ontology.places[key]
        metonym = (spec.metonymic or spec.precision == "country") and bool(_METONYM_AFTER.match(text, end))
        facts[i].places.append(PlaceMention(key, start, end, text[start:end], metonym))
    for start, end, key, i in longest_first(named["source"]):
        facts[i].sources.append(SourceMention(key, start, end))
    for f in facts:
        f.actor_codes = frozenset(a.code for a in f.actors)
        for spans in f.lex.values():
            spans.sort()
        for spans in f.cues.values():
            spans.sort()
    return facts
