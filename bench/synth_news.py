"""Synthetic news stream for the throughput and state benchmarks: our own varied articles, never gold text.

`news_stream` yields RawArticle records whose article times advance steadily (`per_day` articles per day of
article time): mostly irrelevant news, a share of partnership articles, and near-duplicate reprints of recent
articles on other sites. Partnership sentences come from our extraction fixtures (as in
`bench_extract.synthesise`, via its `_pools`), the rest from a small grammar of generic news sentences.

Why the variation: near-duplicate detection keys every article by 12 single-row MinHash bands, and a bucket
verifies each new member against all earlier ones. Articles built from a few hundred fixed sentences share
most of their 5-word shingles, so every article would land in the same few buckets and the benchmark would
measure an artefact. Here every generic sentence carries generated names, places and figures every few
words, and fixture sentences get new figures, weekdays, synonyms and an attribution of their own, so shared
shingles are about as rare as in a real stream (`bucket_sizes` measures it).
"""

from __future__ import annotations

import random
import re
import sys
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_extract import _pools
from schemas.records import RawArticle

FEED, FULL = "feed", "3k"
SIZES = {FEED: (200, 440), FULL: (2700, 3200)}  # characters of text; a feed item also has a title (~40–80)

_ON = ["b", "d", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "ch", "sh"]
_VOW = ["a", "e", "i", "o", "u", "ai", "ou"]
_CODA = ["", "n", "r", "l", "s", "m"]
_FIRST = [
    "Ana", "Ben", "Carla", "Dmitri", "Elena", "Farid", "Grace", "Hana", "Ivan", "Jae", "Kofi", "Lena", "Marco",
    "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wen", "Xavier", "Yara", "Zoran",
    "Aiko", "Boris", "Chloe", "Diego", "Emil", "Fatima", "Goran", "Hugo", "Inez", "Jonas", "Kira", "Luis", "Mira",
    "Nils", "Olga", "Pavel", "Rania", "Sven", "Tomas", "Uma", "Viktor", "Willa", "Yusuf", "Zara"
]
_ROLE = [
    "spokesperson", "minister", "director", "economist", "analyst", "mayor", "chairman", "professor", "governor",
    "coach", "manager", "researcher", "auditor", "prosecutor", "engineer", "editor"
]
_ORG = [
    "Council", "Bank", "Institute", "Authority", "Federation", "Agency", "Union", "Board", "Ministry", "Foundation",
    "Commission", "League", "University", "Group", "Trust", "Company"
]
_ADJ = [
    "regional", "national", "municipal", "private", "independent", "central", "northern", "coastal", "rural",
    "urban", "provincial", "local", "federal", "joint", "new", "former"
]
_NOUN = [
    "budget", "bridge", "railway", "school", "hospital", "harbour", "stadium", "reservoir", "tariff", "pension",
    "contract", "festival"
]
_THINGS = [
    "jobs", "homes", "flights", "tonnes", "visitors", "students", "patients", "buses", "trees", "laptops",
    "permits", "seats", "beds", "loans", "shops"
]
_VERB = [
    "approved", "rejected", "postponed", "announced", "expanded", "cut", "reviewed", "doubled", "funded",
    "criticised", "delayed", "opened", "closed", "suspended", "renewed"
]
_FUTURE = [
    "build", "hire", "fund", "close", "expand", "review", "replace", "repair", "sell", "buy", "test", "launch"
]
_WEEKDAY = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTH = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December"
]

# Generic news. Every run of words between two "large" slots (a surname, a city, a figure of up to 1,000
# values) is at most four words long, and every pattern starts and ends within two words of one, so no
# 5-word shingle of this grammar is fixed text: shared shingles come only from the fixture sentences.
_PATTERNS = (
    "{person} of the {city} {org} said {num} {things} in {city2} would cost {num2} million.",
    "In {city}, {num} residents backed {person}'s plan for {num2} {things}.",
    "{person} told the {city} {outlet} that {num} {things} were expected by {city2}.",
    "Officials in {city} {verb} the {last} plan, citing {num} {things}.",
    "{city} beat {city2} {score} as {last} scored in the {num}th minute.",
    "According to {person}, demand for {things} in {city} rose {pct} percent to {num}.",
    "In {city}, heavy rain closed the {city2} road for {num} hours, {person} said.",
    "{person} of {city} {org} will {future} {num} {things} by {month}, {last2} confirmed.",
    "The {noun} in {city} has {verb2} {num} {things} since {month}, {last} said.",
    "Shares of {city} {org} fell to {num} after {last} {left}.",
    "{person}'s report found {num} {adj} {things} in {city}.",
    "{person}, a {role} in {city}, warned that {city2} could lose {num} {things}.",
)


class Vocabulary:
    """Generated names (a few thousand surnames, cities and outlets) and the fillers of the patterns."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.surnames = sorted({self._word(2, 3).title() for _ in range(6000)})
        self.cities = sorted({self._word(2, 3).title() + rng.choice(["", "", "ville", "burg", "ford", "haven"])
                              for _ in range(3000)})
        self.outlets = sorted({self._word(2, 2) + rng.choice(["news", "times", "post", "daily", "herald"])
                               for _ in range(120)})

    def _word(self, low: int, high: int) -> str:
        r = self.rng
        return "".join(r.choice(_ON) + r.choice(_VOW) + r.choice(_CODA) for _ in range(r.randint(low, high)))

    def person(self) -> str:
        return f"{self.rng.choice(_FIRST)} {self.rng.choice(self.surnames)}"

    def sentence(self) -> str:
        r = self.rng
        city, city2 = r.sample(self.cities, 2)
        slots = {"person": self.person(), "last": r.choice(self.surnames), "last2": r.choice(self.surnames),
                 "role": r.choice(_ROLE), "org": r.choice(_ORG), "outlet": r.choice(["Gazette", "Courier", "Radio"]),
                 "adj": r.choice(_ADJ), "noun": r.choice(_NOUN), "num": r.randint(2, 999), "num2": r.randint(2, 999),
                 "city": city, "city2": city2, "verb": r.choice(_VERB), "things": r.choice(_THINGS),
                 "verb2": r.choice(["attracted", "lost", "added"]), "month": r.choice(_MONTH),
                 "score": f"{r.randint(0, 5)}-{r.randint(0, 4)}", "pct": r.randint(2, 60), "future": r.choice(_FUTURE),
                 "left": r.choice(["resigned", "spoke", "left"])}
        return r.choice(_PATTERNS).format(**slots)


_SWAPS = [  # alternatives the ontology knows (troops, deploy, the focus state), applied one occurrence at a time
    (re.compile(r"\b(?:soldiers|troops|servicemen)\b"), ["soldiers", "troops", "servicemen", "military personnel"]),
    (re.compile(r"\b(?:sent|dispatched)\b"), ["sent", "dispatched", "deployed"]),
    (re.compile(r"\bsaid\b"), ["said", "stated", "told reporters"]),
    (re.compile(r"\bNorth Korea\b(?![n’'])"), ["North Korea", "Pyongyang", "the DPRK"]),
    (re.compile(r"\b(?:about|around|roughly)\b(?= \d)"), ["about", "around", "roughly", "nearly", "some"]),
]
_NUMBER = re.compile(r"\b\d{1,3}(?:,\d{3})+\b|\b\d+\b")
_DAY = re.compile(r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")


def _new_number(rng: random.Random, match: re.Match) -> str:
    text = match.group(0)
    value = int(text.replace(",", ""))
    if 1900 <= value <= 2100 and "," not in text:
        return text  # a year: keep it, dates are facts the extractor reads
    new = max(1, int(value * rng.uniform(0.6, 1.6)) if value > 12 else rng.randint(2, 12))
    return f"{new:,}" if "," in text else str(new)


def salt(sentence: str, rng: random.Random, vocab: Vocabulary) -> str:
    """A hard negative with a generated name after every third or fourth word: it still names Korea and Russia
    (the extractor's pre-filter lets it in), but shares no 5-word shingle with other copies."""
    words = sentence.split(" ")
    for at in range(len(words) - 1 - rng.randint(0, 1), 0, -3):
        words.insert(at, rng.choice(vocab.surnames))
    return " ".join(words)


def vary(sentence: str, rng: random.Random, vocab: Vocabulary) -> str:
    """A fixture sentence with new figures and weekday, a synonym or two and (half the time) an attribution."""
    out = _NUMBER.sub(lambda m: _new_number(rng, m), sentence)
    out = _DAY.sub(lambda m: rng.choice(_WEEKDAY), out)
    for pattern, choices in _SWAPS:
        out = pattern.sub(lambda m, choices=choices: rng.choice(choices), out)
    if rng.random() < 0.5 and out.endswith("."):
        out = out[:-1] + f", {vocab.person()} of the {rng.choice(vocab.cities)} {rng.choice(_ORG)} noted."
    return out


class NewsStream:
    """See the module docstring. `relevant_share` of originals are partnership articles; `reprint_share` of
    all articles are reprints (another site, a sentence dropped or a title changed) of a recent one."""

    def __init__(self, size: str = FEED, relevant_share: float = 0.15, reprint_share: float = 0.05,
                 per_day: float = 2000.0, start: datetime = datetime(2025, 1, 6, tzinfo=UTC), seed: int = 7,
                 negative_share: float = 0.2):
        self.size, self.relevant_share, self.reprint_share = size, relevant_share, reprint_share
        self.step = timedelta(days=1) / per_day
        self.start, self.seed, self.negative_share = start, seed, negative_share
        self.rng = random.Random(seed)
        self.vocab = Vocabulary(random.Random(seed + 1))
        self.relevant, self.negative = _pools()
        self.titles = [t for t in _fixture_titles() if t]

    def __iter__(self) -> Iterator[RawArticle]:
        recent: deque[RawArticle] = deque(maxlen=400)
        for i in range(10**12):
            when = self.start + self.step * i
            if recent and self.rng.random() < self.reprint_share:
                yield self._reprint(i, when, self.rng.choice(recent))
                continue
            article = self._original(i, when)
            recent.append(article)
            yield article

    def _sentences(self, target: int, relevant: bool) -> list[str]:
        """Generic sentences up to `target` characters, with fixture sentences mixed in: a partnership article
        opens with a relevant one and has one per ~500 characters; Korea news (`negative_share` of the
        irrelevant articles, and the partnership ones) has hard negatives, one per ~1,000 characters."""
        r = self.rng
        korea = relevant or r.random() < self.negative_share
        fixture = []
        if relevant:
            fixture += [vary(r.choice(self.relevant), r, self.vocab) for _ in range(max(1, round(target / 500)))]
        if korea:
            fixture += [salt(vary(r.choice(self.negative), r, self.vocab), r, self.vocab)
                        for _ in range(max(1, round(target / 1000)))]
        out = fixture[:1]
        rest = fixture[1:]
        length = sum(len(s) + 1 for s in fixture)
        while length < target:
            sentence = self.vocab.sentence()
            rest.append(sentence)
            length += len(sentence) + 1
        r.shuffle(rest)
        return out + rest

    def _original(self, i: int, when: datetime) -> RawArticle:
        r = self.rng
        relevant = r.random() < self.relevant_share
        low, high = SIZES[self.size]
        sentences = self._sentences(r.randint(low, high), relevant)
        if relevant and r.random() < 0.5:
            title = vary(r.choice(self.titles), r, self.vocab)
        else:
            title = self.vocab.sentence().rstrip(".")
            title = title if len(title) < 90 else title[:title.rfind(" ", 0, 80)]
        if self.size == FEED:
            text = " ".join(sentences)
        else:
            text = "\n\n".join(" ".join(sentences[k:k + 3]) for k in range(0, len(sentences), 3))
        outlet = r.choice(self.vocab.outlets)
        return RawArticle(id=f"syn{self.seed}-{i}", url=f"https://{outlet}.example/{when:%Y/%m}/{i}",
                          title=title, text=text, published=when, outlet=outlet)

    def _reprint(self, i: int, when: datetime, original: RawArticle) -> RawArticle:
        r = self.rng
        outlet = r.choice(self.vocab.outlets)
        title, text = original.title, original.text
        if r.random() < 0.5:
            title = r.choice(["UPDATE: ", "Report: ", ""]) + title
        parts = text.split("\n\n") if self.size == FULL else text.split(". ")
        if len(parts) > 3 and r.random() < 0.6:
            parts.pop(r.randrange(len(parts)))
        text = ("\n\n" if self.size == FULL else ". ").join(parts)
        return RawArticle(id=f"syn{self.seed}-{i}", url=f"https://{outlet}.example/{when:%Y/%m}/{i}",
                          title=title, text=text, published=when, outlet=outlet)


def _fixture_titles() -> list[str]:
    import json

    path = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "extraction" / "articles.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row.get("title") or "" for row in rows if row["relevant"]]


def write_jsonl(articles: Iterable[RawArticle], path: Path, n: int) -> int:
    """The first `n` articles as JSONL lines (the fields `nkru extract` and `nkru replay` read)."""
    done = 0
    with open(path, "w", encoding="utf-8") as out:
        for article in articles:
            if done >= n:
                break
            out.write(article.model_dump_json(exclude_none=True, exclude={"schema_version"}) + "\n")
            done += 1
    return done


def bucket_sizes(articles: Iterable[RawArticle], horizon_days: int = 30) -> dict:
    """LSH bucket sizes as the dedup step would hold them at the end of `articles` (members within the
    horizon of article time): the largest, the 99th percentile and how many articles sit in buckets of > 10."""
    from pipeline.sketch import sketch_text

    members: dict[str, list[datetime]] = {}
    newest = None
    for a in articles:
        newest = a.published
        for key in sketch_text(a.title, a.text)[1]:
            members.setdefault(key, []).append(a.published)
    floor = newest - timedelta(days=horizon_days)
    sizes = Counter({k: sum(1 for t in v if t >= floor) for k, v in members.items()})
    ordered = sorted(sizes.values())
    return {"buckets": len(ordered), "largest": ordered[-1], "p99": ordered[int(0.99 * (len(ordered) - 1))],
            "memberships_in_buckets_over_10": sum(s for s in ordered if s > 10),
            "memberships": sum(ordered), "top5": [s for _, s in sizes.most_common(5)]}
