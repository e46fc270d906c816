"""Vocabulary matcher: text → every (start, end, tags) where a vocabulary fragment matches at a word start.

All vocabularies of the ontology share one matcher. Instead of one regex pass per vocabulary, the text is
tokenised once and each token start only tries the fragments whose literal head fits the token's first
letters (an anchored `re.match` each; a bucket of many fragments is first ruled out by one alternation).
Fragments that start with a group are expanded into literal-headed variants. Hangul fragments, which attach
particles, are tried at every syllable.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Hashable, Sequence

_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")
_TOKEN = re.compile(r"\w+")
_SPECIAL = set("\\.^$*+?{}[]()|")
_HANGUL_HEAD = 3  # Hangul fragments are indexed by (at most) their first three syllables
_QUANTIFIERS = frozenset("?*+{")
_SAME_LENGTH = str.maketrans({"\u02bc": "'", "\u02b9": "'", "\u02bb": "'"})
_ODD_APOSTROPHES = re.compile("[\u02b9\u02bb\u02bc]")
_CACHE_LIMIT = 200_000  # words whose candidate fragments are remembered
_MAX_EXPANSION_DEPTH = 4
Tag = Hashable


Hit = tuple[int, int, tuple[Tag, ...]]  # (start, end, tags of the fragment that matched)


def _split_top(body: str) -> list[str]:
    """Split a pattern on its top-level '|' (not inside groups, character classes or after a backslash)."""
    parts: list[str] = []
    cur: list[str] = []
    depth, escaped, in_class = 0, False, False
    for ch in body:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def _leading_group(pattern: str) -> tuple[str, str, str, str] | None:
    """(opener, body, quantifier, rest) of a fragment that starts with a group, else None."""
    m = re.match(r"\((\?:|\?-i:)?", pattern)
    if not m or pattern.startswith(("(?=", "(?!", "(?<")):
        return None
    depth, i, escaped = 0, 0, False
    while i < len(pattern):
        ch = pattern[i]
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                break
        i += 1
    if i >= len(pattern):
        return None
    opener = m.group(1) or "?:"
    body = pattern[m.end():i]
    rest = pattern[i + 1:]
    quant = "?" if rest.startswith("?") and not rest.startswith("??") else ""
    if rest[:1] in {"*", "+", "{"}:
        return None
    return opener, body, quant, rest[len(quant):]


def expand(pattern: str, depth: int = 0) -> list[str]:
    """Rewrite a fragment that starts with a group ("(?:ballistic )?missiles?") or is an alternation into
    fragments that start with literal text ("ballistic missiles?", "missiles?")."""
    if depth > _MAX_EXPANSION_DEPTH:
        return [pattern]
    alternatives = _split_top(pattern)
    if len(alternatives) > 1:
        return [x for alt in alternatives for x in expand(alt, depth + 1)]
    group = _leading_group(pattern)
    if group is None:
        return [pattern]
    opener, body, quant, rest = group
    out = []
    for alt in _split_top(body):
        if opener == "?-i:":
            out.append(f"(?-i:{alt}){rest}")
        else:
            out.extend(expand(alt + rest, depth + 1))
    if quant:
        out.extend(expand(rest, depth + 1))
    return out


def head_of(pattern: str) -> tuple[str, bool] | None:
    """(head, whole) of a fragment: the literal letters it must start with (lower-cased) and whether they are
    its whole first word ("north" of "north korea": only the token "north") or a prefix ("troop" of "troops?",
    "sen" of "sen(?:d|t)"); "#" for a leading digit class; None when nothing literal leads."""
    body = pattern[5:] if pattern.startswith("(?-i:") else pattern
    if body.startswith("\\d"):
        return "#", False
    i = 0
    while i < len(body) and body[i].isalnum() and not (i + 1 < len(body) and body[i + 1] in _QUANTIFIERS):
        i += 1
    if i == 0:
        return None
    head, rest = body[:i].lower(), body[i:]
    return head, _ends_word(rest)


def _ends_word(rest: str) -> bool:
    """Does the regex text after a literal run certainly end the word there?"""
    if not rest or rest[0] in " ,":
        return True
    if rest[0] == ")":
        return rest == ")" or rest.startswith(")(?!")
    if rest[0] == "\\" and len(rest) > 1:
        escaped_word_end = rest[1] in "s.-'’ " or not rest[1].isalnum()
        return escaped_word_end and rest[1] not in "wdWDS" and rest[2:3] not in _QUANTIFIERS
    if not rest[0].isalnum() and rest[0] not in _SPECIAL:
        return rest[1:2] not in _QUANTIFIERS
    return False


class VocabularyMatcher:
    """Finds every tagged fragment at every word start (overlapping matches are all kept)."""

    def __init__(self, entries: Sequence[tuple[str, Tag]], flags: int = re.IGNORECASE) -> None:
        by_fragment: dict[str, list[Tag]] = {}
        for pattern, tag in entries:
            for frag in expand(pattern):
                by_fragment.setdefault(frag, []).append(tag)
        whole: dict[str, list[tuple[str, tuple[Tag, ...]]]] = {}
        prefix: dict[str, list[tuple[str, tuple[Tag, ...]]]] = {}
        hangul: dict[str, list[tuple[str, tuple[Tag, ...]]]] = {}
        fallback: list[str] = []
        self._fallback_tags: list[tuple[Tag, ...]] = []
        for frag, tags in by_fragment.items():
            unique = tuple(dict.fromkeys(tags))
            head = head_of(frag)
            if head is None:
                fallback.append(f"(?P<f{len(self._fallback_tags)}>{frag})")
                self._fallback_tags.append(unique)
            elif _HANGUL.search(frag):
                hangul.setdefault(head[0][:_HANGUL_HEAD], []).append((frag, unique))
            else:
                (whole if head[1] else prefix).setdefault(head[0], []).append((frag, unique))
        self._whole = {k: _bucket(items, flags, boundary=True) for k, items in whole.items()}
        self._prefix = {k: _bucket(items, flags, boundary=True) for k, items in prefix.items()}
        self._hangul = {k: _bucket(items, flags, boundary=False) for k, items in hangul.items()}
        self._lengths = sorted({len(h) for h in self._prefix if h != "#"}, reverse=True)
        self._hangul_lengths = sorted({len(h) for h in self._hangul}, reverse=True)
        self._fallback = re.compile(rf"(?<!\w)(?:{'|'.join(fallback)})(?!\w)", flags) if fallback else None
        self._cache: dict[str, tuple] = {}  # type: ignore[type-arg]

    def _candidates(self, word: str) -> tuple[tuple, tuple]:  # type: ignore[type-arg]
        """Buckets of fragments that may match at the start of `word` (and, for Hangul, inside it)."""
        latin: list = []  # type: ignore[type-arg]
        if word in self._whole:
            latin.append(self._whole[word])
        if word[0].isdigit() and "#" in self._prefix:
            latin.append(self._prefix["#"])
        for n in self._lengths:
            if n <= len(word) and word[:n] in self._prefix:
                latin.append(self._prefix[word[:n]])
        inner: list = []  # type: ignore[type-arg]
        if self._hangul and _HANGUL.search(word):
            for k in range(len(word)):
                found = [self._hangul[word[k:k + n]] for n in self._hangul_lengths if word[k:k + n] in self._hangul]
                if found:
                    inner.append((k, tuple(found)))
        entry = (tuple(latin), tuple(inner))
        if len(self._cache) > _CACHE_LIMIT:
            self._cache.clear()
        self._cache[word] = entry
        return entry

    def find(self, text: str, start: int = 0, end: int | None = None) -> list[Hit]:
        """Every match of every fragment at a word start of text[start:end], as (start, end, tags)."""
        end = len(text) if end is None else end
        if _ODD_APOSTROPHES.search(text):
            text = text.translate(_SAME_LENGTH)  # typographic apostrophes that are word characters
        low = text.lower()
        if len(low) != len(text):  # a character whose lower case is longer: keep offsets aligned
            low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
        hits: list[Hit] = []
        append = hits.append
        cache = self._cache
        for tok in _TOKEN.finditer(low, start, end):
            word = tok.group()
            latin, inner = cache.get(word) or self._candidates(word)
            if latin:
                pos = tok.start()
                for gate, probe, tags in latin:  # inlined _scan: this loop is the extractor's hot path
                    if gate is None:
                        m = probe.match(text, pos, end)
                        if m is not None and m.end() > pos:
                            append((pos, m.end(), tags[0]))
                    elif gate.match(text, pos, end) is not None:
                        regs = probe.match(text, pos, end).regs
                        for i in range(1, len(regs)):
                            if regs[i][1] > pos:
                                append((pos, regs[i][1], tags[i - 1]))
            for k, buckets in inner:
                for bucket in buckets:
                    _scan(bucket, text, tok.start() + k, end, hits)
        if self._fallback is not None:
            for m in self._fallback.finditer(text, start, end):
                hits.append((m.start(), m.end(), self._fallback_tags[int(m.lastgroup[1:])]))  # type: ignore[index]
        return hits


def _noncapturing(pattern: str) -> str:
    """The pattern with its capturing groups made non-capturing (group numbers must stay ours)."""
    out, escaped, in_class = [], False, False
    for i, ch in enumerate(pattern):
        out.append(ch)
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(" and not pattern.startswith("?", i + 1):
            out.append("?:")
    return "".join(out)


def _bucket(items: list[tuple[str, tuple[Tag, ...]]], flags: int, boundary: bool) -> tuple:  # type: ignore[type-arg]
    """The fragments of one head as (gate, probe, tags). A single fragment is matched directly. Several are
    first ruled out by one alternation (`gate`), which fails at most positions; where it matches, one pass of
    optional look-aheads (`probe`, group i+1 = fragment i) tells which fragments match and how far."""
    end = r"(?!\w)" if boundary else ""
    frags = [f"(?:{_noncapturing(frag)}){end}" for frag, _ in items]
    tags = tuple(t for _, t in items)
    if len(frags) == 1:
        return None, re.compile(frags[0], flags), tags
    gate = re.compile("|".join(frags), flags)
    probe = re.compile("".join(f"(?=({frag}))?" for frag in frags), flags)
    return gate, probe, tags


def _scan(bucket: tuple, text: str, pos: int, end: int, hits: list[Hit]) -> None:  # type: ignore[type-arg]
    gate, probe, tags = bucket
    if gate is None:
        m = probe.match(text, pos, end)
        if m is not None and m.end() > pos:
            hits.append((pos, m.end(), tags[0]))
        return
    if gate.match(text, pos, end) is None:
        return
    regs = probe.match(text, pos, end).regs  # type: ignore[union-attr]
    for i in range(1, len(regs)):
        stop = regs[i][1]
        if stop > pos:
            hits.append((pos, stop, tags[i - 1]))


def longest_first(hits: list[tuple]) -> list[tuple]:  # type: ignore[type-arg]
    """Drop (start, end, …) hits that overlap a longer (or earlier, equally long) one; result in text order."""
    starts: list[int] = []
    kept: list[tuple] = []  # type: ignore[type-arg]
    for hit in sorted(hits, key=lambda h: (h[0] - h[1], h[0])):
        i = bisect_right(starts, hit[0])
        if (i > 0 and kept[i - 1][1] > hit[0]) or (i < len(kept) and kept[i][0] < hit[1]):
            continue
        starts.insert(i, hit[0])
        kept.insert(i, hit)
    return kept
