"""Quantities: sentence text → named figures ({name: Quantity{low, high, approx, vague}}) with their offsets.

Reads digits with any grouping ("10,000", "10 000", "10.000", "1,1 тис."), scale words ("6 million", "1만5천"),
number words in the languages the monitor meets, ranges ("25,000 to 30,000", "between 10,000 and 12,000"),
bounds ("more than", "up to", "10,000-plus"), hedges ("about" → approx) and vague amounts ("thousands").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from schemas.records import Quantity

_WORDS = {
    # English
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "a hundred": 100, "hundred": 100,
    "a thousand": 1000, "a dozen": 12, "dozen": 12, "a million": 1_000_000,
    # Russian / Ukrainian (common case forms)
    "один": 1, "одна": 1, "одного": 1, "два": 2, "две": 2, "двух": 2, "двоє": 2, "двох": 2, "дві": 2,
    "три": 3, "трех": 3, "трёх": 3, "трьох": 3, "четыре": 4, "четырех": 4, "чотири": 4, "чотирьох": 4,
    "пять": 5, "пяти": 5, "п'ять": 5, "п’ять": 5, "п'яти": 5, "шесть": 6, "шести": 6, "шість": 6,
    "семь": 7, "семи": 7, "сім": 7, "восемь": 8, "восьми": 8, "вісім": 8, "девять": 9, "девяти": 9,
    "дев'ять": 9, "дев’ять": 9, "дев'яти": 9, "дев’яти": 9, "десять": 10, "десяти": 10,
    # German, French, Polish, Indonesian (small numbers that name soldiers and prisoners)
    "zwei": 2, "drei": 3, "neun": 9, "zehn": 10, "deux": 2, "trois": 3, "neuf": 9, "dix": 10,
    "dwóch": 2, "dwaj": 2, "dwa": 2, "trzech": 3, "dziewięciu": 9,
    "satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5, "enam": 6, "tujuh": 7, "delapan": 8,
    "sembilan": 9, "sepuluh": 10,
    # Korean native numerals used with counters
    "두": 2, "세": 3, "네": 4,
}
_SCALES = {
    "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000, "mln": 1_000_000, "m": 1_000_000,
    "bn": 1_000_000_000, "тыс": 1_000, "тыс.": 1_000, "тысяч": 1_000, "тысячи": 1_000, "тысяча": 1_000,
    "тис": 1_000, "тис.": 1_000, "тисяч": 1_000, "тисячі": 1_000, "тисяча": 1_000, "млн": 1_000_000,
    "млн.": 1_000_000, "млрд": 1_000_000_000, "tausend": 1_000, "millionen": 1_000_000, "million(s)": 1_000_000,
    "millions": 1_000_000, "mille": 1_000, "tysięcy": 1_000, "tys.": 1_000, "ribu": 1_000, "juta": 1_000_000,
    "만": 10_000, "천": 1_000, "백만": 1_000_000,
}
_APPROX = (r"about|around|approximately|approx\.?|some|roughly|nearly|almost|close to|an estimated|estimated|"
           r"an? (?:reported|estimated)|~|около|примерно|почти|приблизно|орієнтовно|близько|майже|knapp|rund|"
           r"etwa|environ|près de|około|blisko|sekitar|hampir|약|거의")
_LOWER = (r"more than|over|at least|in excess of|exceeding|upwards of|no fewer than|no less than|свыше|более|"
          r"больше|понад|більше|über|mehr als|plus de|ponad|lebih dari")
_UPPER = r"up to|as many as|fewer than|less than|no more than|at most|до|bis zu|jusqu'à|hingga"
_WORD_ALT = "|".join(sorted((re.escape(w) for w in _WORDS), key=len, reverse=True))
_SCALE_ALT = "|".join(sorted((re.escape(w) for w in _SCALES if w != "m"), key=len, reverse=True))
_DIGITS = r"\d{1,3}(?:(?:,|\.|\u00a0| |\u202f)\d{3})+(?![\d])|\d+(?:[.,]\d+)?"
_KO_NUM = r"\d+\s?만(?:\s?\d+\s?천)?(?:\s?\d+)?|\d+\s?천(?:\s?\d+)?"
_ONE = (rf"(?:\$\s?(?:{_DIGITS})(?:\s?(?:{_SCALE_ALT})(?!\w)|[mM](?!\w)|bn(?!\w))?"
        rf"|(?:{_KO_NUM})|(?:{_DIGITS})(?:\s?(?:{_SCALE_ALT})(?!\w))?"
        rf"|(?<!\w)(?:{_WORD_ALT})(?:\s(?:{_SCALE_ALT}))?(?!\w))")
_NUMBER = re.compile(
    rf"(?P<qual>(?<!\w)(?:{_APPROX}|{_LOWER}|{_UPPER})\s+|(?<!\w)between\s+|(?<!\w)from\s+)?"
    rf"(?<![\w.,/-])(?P<a>{_ONE})"
    rf"(?:(?P<rng>\s?(?:-|–|—|to|and|or|до|по|~|에서)\s?)(?P<b>{_ONE}))?"
    rf"(?P<plus>-plus|\+|\s?여|\s?余)?"
    rf"(?P<counter>\s?(?:명|개|척|대|발|기)(?:의|을|를|이|가|은|는)?)?"
    rf"(?P<tail>\s?(?:이상|이하|여))?",
    re.IGNORECASE,
)
# the same figure, anchored where the number starts (find_quantities looks back for its qualifier)
_NUM_AT = re.compile(
    rf"(?<![\w.,/-])(?P<a>{_ONE})"
    rf"(?:(?P<rng>\s?(?:-|–|—|to|and|or|до|по|~|에서)\s?)(?P<b>{_ONE}))?"
    rf"(?P<plus>-plus|\+|\s?여|\s?余)?"
    rf"(?P<counter>\s?(?:명|개|척|대|발|기)(?:의|을|를|이|가|은|는)?)?"
    rf"(?P<tail>\s?(?:이상|이하|여))?",
    re.IGNORECASE,
)
_WORD_VALUE = re.compile(rf"({_WORD_ALT})(?:\s+({_SCALE_ALT}))?")
_DIGIT_VALUE = re.compile(rf"({_DIGITS})\s?({_SCALE_ALT}|m|bn)?", re.IGNORECASE)
_GROUPED = re.compile(r"\d{1,3}(?:[.,]\d{3})+")
_QUAL_BEFORE = re.compile(rf"(?<!\w)(?P<qual>{_APPROX}|{_LOWER}|{_UPPER}|between|from)\s+$", re.IGNORECASE)
_SINGLE_NOUNS = ("launcher", "howitzer", "vessel", "ship", "train")
VAGUE_PATTERNS = [
    r"tens of thousands(?: of)?", r"hundreds of thousands(?: of)?", r"thousands(?: of)?", r"hundreds(?: of)?",
    r"dozens(?: of)?", r"scores(?: of)?", r"several", r"a few", r"numerous",
    r"a (?:small|large|significant|limited|growing) number(?: of)?", r"large numbers(?: of)?", r"many",
    r"тысячи", r"тысяч", r"сотни", r"десятки", r"несколько", r"тисячі", r"сотні", r"кілька", r"tausende",
    r"hunderte", r"des milliers", r"des centaines", r"tysiące", r"setki", r"ribuan", r"ratusan",
    r"수천", r"수백", r"수만",
]
NUMBER_WORDS = sorted(_WORDS, key=len, reverse=True)
_VAGUE = re.compile("|".join(f"(?:{p})" if p.startswith("수") else f"(?:{p})(?!\\w)" for p in VAGUE_PATTERNS),
                    re.IGNORECASE)
# where a figure may start when no matcher hits are at hand: a digit (or "$"), a number word, a vague amount
_ANCHOR = re.compile(
    rf"\$?\d|(?<![\w'’])(?:{_WORD_ALT})(?![\w'’])|(?P<vague>(?<!\w)(?:"
    + "|".join(p for p in VAGUE_PATTERNS if not p.startswith("수")) + r")(?!\w)|수천|수백|수만)",
    re.IGNORECASE,
)
_DIGIT_RUN = re.compile(r"\$?\d+")
_APPROX_RE = re.compile(_APPROX, re.IGNORECASE)
_LOWER_RE = re.compile(_LOWER, re.IGNORECASE)
_UPPER_RE = re.compile(_UPPER, re.IGNORECASE)
_CALIBRE = re.compile(r"\s?-?\s?(?:mm|мм|밀리|km/h|%|per ?cent|percent|th|st|nd|rd|°)(?!\w)", re.IGNORECASE)
_SINGLE = re.compile(r"(?<!\w)(?:a|an|one|a single)\s+(?:[\w-]+\s+){0,2}?(?:launcher|howitzer|vessel|ship|train)(?!\w)",
                     re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class QuantityMention:
    name: str
    quantity: Quantity
    start: int
    end: int


def number_value(token: str) -> float | None:
    """The value of one number token: '10,000' → 10000, '1,1 тис.' → 1100, 'six million' → 6e6, '1만5천' → 15000."""
    raw = token.strip().lstrip("$").strip()
    low = raw.lower()
    if "만" in raw or "천" in raw:
        return _korean_value(raw)
    word = _WORD_VALUE.fullmatch(low)
    if word:
        return _WORDS[word.group(1)] * _SCALES.get(word.group(2) or "", 1)
    m = _DIGIT_VALUE.fullmatch(raw)
    if not m:
        return None
    digits, scale = m.group(1), (m.group(2) or "").lower()
    value = _digits_value(digits)
    if value is None:
        return None
    return value * _SCALES.get(scale, 1)


def _digits_value(digits: str) -> float | None:
    compact = re.sub(r"[\u00a0 \u202f]", "", digits)
    if _GROUPED.fullmatch(compact):
        return float(re.sub(r"[.,]", "", compact))  # grouped thousands: 10,000 / 10.000
    try:
        return float(compact.replace(",", "."))  # decimal comma: 1,1 тис.
    except ValueError:
        return None


def _korean_value(raw: str) -> float | None:
    total = 0.0
    rest = raw.replace(" ", "")
    for unit, scale in (("만", 10_000), ("천", 1_000)):
        if unit in rest:
            head, rest = rest.split(unit, 1)
            if head:
                total += float(head) * scale
    if rest.strip():
        try:
            total += float(rest)
        except ValueError:
            return None
    return total or None


def _as_int(value: float | None) -> int | None:
    return None if value is None else int(round(value))


def parse_quantity(expression: str) -> Quantity | None:
    """Parse a stand-alone expression ('about 4,000', 'between 10,000 and 12,000', 'thousands') to a Quantity."""
    text = re.sub(r"[\"“”«»]", "", expression).strip()
    m = _NUMBER.search(text)
    if m:
        return _to_quantity(m)
    if _VAGUE.search(text):
        return Quantity(vague=True)
    return None


def _to_quantity(m: re.Match[str], qualifier: str | None = None) -> Quantity | None:
    a = number_value(m.group("a"))
    if a is None:
        return None
    qual = (m.group("qual") if qualifier is None else qualifier) or ""
    qual = qual.strip().lower()
    approx = bool(qual and _APPROX_RE.fullmatch(qual)) or (m.group("plus") or "").strip() in {"여", "余"}
    if (m.group("tail") or "").strip() == "여":
        approx = True
    if m.group("b"):
        b = number_value(m.group("b"))
        rng = (m.group("rng") or "").strip().lower()
        if b is not None and (rng not in {"and", "or"} or qual == "between"):
            if b < a and a >= 1000 and b < 1000 and b > 0:
                b = b * 10 ** (len(str(int(a))) - len(str(int(b))))  # "25-30 thousand" style shorthand
            return Quantity(low=_as_int(min(a, b)), high=_as_int(max(a, b)), approx=approx)
    lower = bool(qual and _LOWER_RE.fullmatch(qual)) or m.group("plus") in {"-plus", "+"} or (
        (m.group("tail") or "").strip() == "이상")
    upper = bool(qual and _UPPER_RE.fullmatch(qual)) or (m.group("tail") or "").strip() == "이하"
    value = _as_int(a)
    if lower:
        return Quantity(low=value, high=None, approx=approx)
    if upper:
        return Quantity(low=None, high=value, approx=approx)
    return Quantity(low=value, high=value, approx=approx)


def anchors_in(text: str, start: int, end: int, number_words: list[tuple[int, int]] | None = None,
               vague: list[tuple[int, int]] | None = None) -> list[tuple[int, bool]]:
    """(offset, is vague) where a figure may start in text[start:end]. Number words and vague amounts come from
    the matcher's hits when given (the cheap way), else from a regex pass."""
    if number_words is None or vague is None:
        return [(m.start(), m.lastgroup == "vague") for m in _ANCHOR.finditer(text, start, end)]
    found = [(m.start(), False) for m in _DIGIT_RUN.finditer(text, start, end)]
    found += [(s, False) for s, _ in number_words] + [(s, True) for s, _ in vague]
    return sorted(found)


def find_quantities(text: str, start: int, end: int, noun_after: re.Pattern[str], noun_before: re.Pattern[str],
                    names: list[str], anchors: list[tuple[int, bool]] | None = None) -> list[QuantityMention]:
    """Named figures inside text[start:end]; a figure is kept only when a known noun names it."""
    found: list[QuantityMention] = []
    covered = -1
    for pos, is_vague in anchors_in(text, start, end) if anchors is None else anchors:
        if pos < covered:
            continue
        if is_vague:
            vague = _VAGUE.match(text, pos, end)
            if vague is not None:
                covered = vague.end()
                name = _name_at(text, vague.end(), end, noun_after, names)
                if name:
                    found.append(QuantityMention(name, Quantity(vague=True), vague.start(), vague.end()))
            continue
        m = _NUM_AT.match(text, pos, end)
        if m is None or not m.group("a").strip():
            continue
        covered = m.end()
        mention = _figure(text, start, end, m, noun_after, noun_before, names)
        if mention is not None:
            found.append(mention)
    segment = text[start:end]
    if any(noun in segment for noun in _SINGLE_NOUNS):
        for m in _SINGLE.finditer(text, start, end):
            name = _name_at(text, m.start() + m.group(0).index(" "), end, noun_after, names)
            if name:
                found.append(QuantityMention(name, Quantity(low=1, high=1), m.start(), m.end()))
    return found


def _figure(text: str, start: int, end: int, m: re.Match[str], noun_after: re.Pattern[str],
            noun_before: re.Pattern[str], names: list[str]) -> QuantityMention | None:
    if _CALIBRE.match(text, m.end("a"), min(end, m.end("a") + 10)) or _looks_like_date(text, m):
        return None
    q = _QUAL_BEFORE.search(text, max(start, m.start() - 32), m.start())
    qual = q.group("qual") if q else ""
    first = q.start() if q else m.start()
    if m.group("a").startswith("$"):
        name: str | None = "cost_usd"
    else:
        name = _name_at(text, m.end(), end, noun_after, names) or _name_before(text, first, start, noun_before, names)
    quantity = _to_quantity(m, qual) if name else None
    if name is None or quantity is None:
        return None
    return QuantityMention(name, quantity, first, m.end())


def _name_at(text: str, pos: int, end: int, noun_after: re.Pattern[str], names: list[str]) -> str | None:
    m = noun_after.match(text, pos, min(end, pos + 80))
    if not m or not m.lastgroup:
        return None
    return names[int(m.lastgroup[1:])]


def _name_before(text: str, pos: int, start: int, noun_before: re.Pattern[str], names: list[str]) -> str | None:
    m = noun_before.search(text, max(start, pos - 24), pos)
    if not m or not m.lastgroup:
        return None
    return names[int(m.lastgroup[1:])]


_MONTH_NEAR = re.compile(
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s*$|^\s*(?:jan|feb|mar|apr|may|jun|jul|aug|sep|"
    r"oct|nov|dec)[a-z]*\b|^\s?(?:일|월|년|日)|^[,]?\s*(?:19|20)\d\d", re.IGNORECASE)


# a hedge or lower bound before a year-like number makes it a count: years are not "nearly" or "more than"
_COUNT_BEFORE = re.compile(rf"(?<!\w)(?:{_APPROX}|{_LOWER}|as many as)\s+$", re.IGNORECASE)


def _looks_like_date(text: str, m: re.Match[str]) -> bool:
    before = text[max(0, m.start("a") - 12):m.start("a")]
    after = text[m.end("a"):m.end("a") + 12]
    if m.group("counter"):
        return False
    value = number_value(m.group("a"))
    if value is not None and 1900 <= value <= 2100 and float(value).is_integer() and "," not in m.group("a"):
        return not _COUNT_BEFORE.search(before)  # "nearly 2000 containers" counts; "in 2000" is a year
    return bool(_MONTH_NEAR.search(before) or _MONTH_NEAR.match(after))


def merge_quantities(mentions: list[QuantityMention]) -> dict[str, Quantity]:
    """{name: Quantity}, first figure of each name wins; a numeric figure replaces a vague one."""
    out: dict[str, Quantity] = {}
    for mention in mentions:
        current = out.get(mention.name)
        if current is None or (current.vague and not mention.quantity.vague):
            out[mention.name] = mention.quantity
    return out
