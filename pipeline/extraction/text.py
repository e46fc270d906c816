"""Text segmentation: article text → sentences with exact character offsets (text[start:end] is the sentence)."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

# a sentence ends at . ! ? … (and its closing quotes or brackets) before whitespace and a capital, digit, quote or
# Hangul; at a full stop glued to the next sentence ("ministries.The"); or at a line break
_BOUNDARY = re.compile(
    r"""[.!?…。]["'”’»)\]]*(?:\s+(?=[\"'“‘«(\[–—-]?[A-ZА-ЯЁІЇЄҐ0-9\uac00-\ud7a3])|(?=[A-ZА-ЯЁІЇЄҐ][a-zа-яіїєґ]))"""
    r"""|\n\s*"""
)
_GLUED_BEFORE = re.compile(r"[a-zа-яіїєґ)”\"]")
_TAIL = re.compile(r"""[.!?…。]["'”’»)\]]*""")
# tokens before a full stop that do not end a sentence
_ABBREV = re.compile(
    r"(?:\b(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Mr|Mrs|Ms|Dr|Lt|Gen|Col|Maj|Capt|Sgt|Rep|Sen|Gov|"
    r"Prof|St|No|Nos|vs|etc|e\.g|i\.e|approx|Inc|Co|Corp|Ltd|Jr|Sr|Adm|Cmdr|Pres|Dept|Univ|ca|cf|"
    r"тыс|тис|млн|млрд|г|гг|ст|им|ул)|\b[A-Z]|(?:\b[A-Z]\.)+[A-Z])\.$"
)
_LEAD = re.compile(r"[\s\-–—•*>·]+")
_TRAIL = re.compile(r"\s+$")


@dataclass(frozen=True, slots=True)
class Sentence:
    index: int
    start: int
    end: int
    text: str


def split_sentences(text: str) -> list[Sentence]:
    """Split `text` into sentences; each keeps its offsets into `text` (leading bullets/dashes trimmed)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if match.group(0)[0] == "\n" or match.group(0)[0].isspace():
            spans.append((start, match.start()))
            start = match.end()
            continue
        tail = _TAIL.match(text, match.start())
        cut = tail.end() if tail else match.start() + 1
        glued = cut == match.end()
        if glued and (match.start() == 0 or not _GLUED_BEFORE.match(text, match.start() - 1)):
            continue
        if _ABBREV.search(text, max(start, match.start() - 12), match.start() + 1):
            continue  # "Nov. 29", "U.S. officials", "Lt. Gen." — not a sentence end
        spans.append((start, cut))
        start = match.end()
    spans.append((start, len(text)))
    sentences: list[Sentence] = []
    for s, e in spans:
        lead = _LEAD.match(text, s, e)
        if lead:
            s = lead.end()
        trail = _TRAIL.search(text, s, e)
        if trail:
            e = trail.start()
        if e - s >= 2:
            sentences.append(Sentence(len(sentences), s, e, text[s:e]))
    return sentences


class SentenceIndex:
    """Maps a character offset of the text to the sentence that contains it."""

    def __init__(self, sentences: list[Sentence]) -> None:
        self.sentences = sentences
        self._starts = [s.start for s in sentences]

    def at(self, offset: int) -> int | None:
        i = bisect_right(self._starts, offset) - 1
        if i >= 0 and offset < self.sentences[i].end:
            return i
        return None
