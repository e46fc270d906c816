"""Pure evidence-term similarity for story assignment (no Beam): an article's distinctive words → terms; how
much of an article's vocabulary a story has, and how close an article is to a story's closest article.

Terms are the numbers and the words of 4+ letters (names, places, systems) of an article's title and of its
evidence sentences (NFKC, lower case), kept as 32-bit hashes (blake2b, the same in every process): a story
holds no text, and a term costs a few bytes of state. Each term is weighted by its smoothed idf over the
stories of the index (`df`: in how many stories it occurs), so words every story has count for little.
Float sums run over sorted terms: set order differs between worker processes, and so would a rounding.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping

from schemas.records import EventMention

_WORD = re.compile(r"\w+")


def words(text: str) -> set[str]:
    """The distinctive words of a text: numbers and words of 4+ letters."""
    text = unicodedata.normalize("NFKC", text).lower().replace(",", "")
    return {w for w in _WORD.findall(text) if len(w) >= 4 or w.isdigit()}


def term_id(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=4).digest(), "big")


def article_terms(mentions: Iterable[EventMention]) -> frozenset[int]:
    """The terms of an article: the words of its title and of its mentions' evidence sentences."""
    found: set[str] = set()
    for mention in mentions:
        if mention.event.evidence is not None:
            found |= words(mention.event.evidence.text)
        if mention.title:
            found |= words(mention.title)
    return frozenset(term_id(w) for w in found)


def idf(term: int, df: Mapping[int, int], stories: int) -> float:
    """Smoothed idf: a term no story has weighs log(stories) + 1, a term every story has about 1."""
    return math.log(stories / (df.get(term, 0) + 1)) + 1.0


def coverage(terms: frozenset[int], known: set[int] | frozenset[int], df: Mapping[int, int], stories: int) -> float:
    """The idf-weighted share of `terms` that `known` has (an article's vocabulary found in a story)."""
    if not terms or not known:
        return 0.0
    weight = {t: idf(t, df, stories) for t in sorted(terms)}
    return sum(w for t, w in weight.items() if t in known) / sum(weight.values())


def closest(terms: frozenset[int], others: Iterable[frozenset[int]], df: Mapping[int, int], stories: int) -> float:
    """The highest idf-weighted cosine between `terms` and any of `others` (a story's articles, one by one: a
    story's union of words would favour the stories with many articles)."""
    if not terms:
        return 0.0
    squared = {t: idf(t, df, stories) ** 2 for t in sorted(terms)}
    norm = math.sqrt(sum(squared.values()))
    best = 0.0
    for other in others:
        shared = sum(squared[t] for t in sorted(terms & other))
        if shared > 0.0:
            other_norm = math.sqrt(sum(idf(t, df, stories) ** 2 for t in sorted(other)))
            best = max(best, shared / (norm * other_norm))
    return best
