"""Benchmark: articles per second of `pipeline.extraction.extract` on one core, for articles of about 3 KB.

The articles are synthesised from our own fixture texts (tests/fixtures/extraction/articles.jsonl; no gold
text): sentences of several fixtures are shuffled together until an article reaches the target size, and each
article gets its own publication date, so no two articles are alike. Three mixes are measured:

- ``partnership``: every article is about the partnership; half of its sentences come from relevant fixtures,
  half from hard negatives (about 12 events per 3 KB, the density the extractor finds in the dev set);
- ``dense``: every sentence comes from a relevant fixture (about twice that density: a worst case);
- ``stream``: one article in five is a ``partnership`` article, the rest are hard negatives only (closer to
  a news stream after a keyword pre-filter).

Run: ``.venv/bin/python bench/bench_extract.py [--articles 1000] [--size 3000] [--json]``. CPU time is the
process's own (``time.process_time``), i.e. one core; each mix is timed three times and the fastest run is
reported, so that other load on a shared machine disturbs the figure as little as possible.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.extraction import extract, load_ontology  # noqa: E402
from pipeline.extraction.text import split_sentences  # noqa: E402
from schemas.records import RawArticle  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "extraction" / "articles.jsonl"


def _pools() -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in FIXTURES.read_text(encoding="utf-8").splitlines() if line.strip()]
    relevant = [s.text for r in rows if r["relevant"] for s in split_sentences(r["text"])]
    negative = [s.text for r in rows if not r["relevant"] for s in split_sentences(r["text"])]
    return relevant, negative


def synthesise(n: int, size: int, relevant_share: float, sentence_share: float, seed: int = 4) -> list[RawArticle]:
    """`n` articles of about `size` characters. A `relevant_share` of them are partnership articles, whose
    sentences come from relevant fixtures with probability `sentence_share` (else from hard negatives)."""
    rng = random.Random(seed)
    relevant, negative = _pools()
    articles = []
    for i in range(n):
        share = sentence_share if rng.random() < relevant_share else 0.0
        sentences: list[str] = []
        length = 0
        while length < size:
            sentence = rng.choice(relevant if rng.random() < share else negative)
            sentences.append(sentence)
            length += len(sentence) + 1
        paragraphs = [" ".join(sentences[k:k + 3]) for k in range(0, len(sentences), 3)]
        published = date(2024, 1, 1) + timedelta(days=i % 700)
        articles.append(RawArticle(id=f"bench-{i}", title="", text="\n\n".join(paragraphs),
                                   published=published.isoformat()))
    return articles


def measure(articles: list[RawArticle], repeat: int = 3) -> dict[str, float]:
    ontology = load_ontology()
    for a in articles[: min(50, len(articles))]:  # warm-up: compiled patterns and caches, as in a running worker
        extract(a, ontology)
    cpu = wall = float("inf")
    for _ in range(repeat):  # the fastest of `repeat` runs: the least disturbed by other load on the machine
        c, w = time.process_time(), time.perf_counter()
        outputs = [extract(a, ontology) for a in articles]
        cpu, wall = min(cpu, time.process_time() - c), min(wall, time.perf_counter() - w)
    kb = sum(len(a.text.encode("utf-8")) for a in articles) / len(articles) / 1000
    relevant = sum(o.relevant for o in outputs)
    events = sum(len(o.events) for o in outputs)
    return {"articles": len(articles), "avg_kb": round(kb, 2), "relevant": relevant,
            "events_per_relevant_article": round(events / max(1, relevant), 1),
            "articles_per_cpu_second": round(len(articles) / cpu, 1),
            "articles_per_wall_second": round(len(articles) / wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--size", type=int, default=3000, help="target article size in characters")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    mixes = {"partnership": (1.0, 0.5), "dense": (1.0, 1.0), "stream": (0.2, 0.5)}
    results = {mix: measure(synthesise(args.articles, args.size, *shares)) for mix, shares in mixes.items()}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for mix, r in results.items():
        print(f"{mix:12s} {r['articles']} articles of {r['avg_kb']} KB ({r['relevant']} relevant, "
              f"{r['events_per_relevant_article']} events each): {r['articles_per_cpu_second']} articles/s per core "
              f"(CPU time), {r['articles_per_wall_second']} wall")


if __name__ == "__main__":
    main()
