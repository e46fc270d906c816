"""Grouping quality: a replay output directory scored against a labelled gold JSONL (`event_groups`).

- Pairwise: two articles sharing a relevant gold group (`D…`) should share a canonical event in events.jsonl
  (its mentions list both); two sharing no group should not. Pairs that share only a negative group (`DN…`,
  irrelevant stories) are left out. Precision = TP / predicted pairs, recall = TP / gold pairs; `found_by_kind`
  splits the gold pairs by what their times allow (one undated, one dated only to the month, dated ≤ 10 days
  apart, dated further apart).
- Near-duplicate flags: the gold set's copies are pairs in one group whose 5-word-shingle containment is ≥ 0.5
  (computed from the texts here, exactly); each should be in one cluster (`cluster_id` / `duplicate_of`).
  Flags across different stories are counted as false flags.
- `new` alerts per group: for each relevant group, the canonical events of its main type (the type most of its
  articles report) that mostly hold its articles, and the `new` alerts they raised; at most one is wanted.

`python -m pipeline.grouping_eval --gold FILE --out DIR` runs `nkru replay` (end to end, through the
extractor) and prints the figures; `--gold-events` instead feeds the gold labels as the extraction (dedup,
merge and alerting judged without extraction errors, without Beam).
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
from collections import Counter
from datetime import date
from pathlib import Path

from pipeline.sketch import shingles
from schemas.records import Actor, EnrichedArticle, Evidence, ExtractedEvent, Location, Quantity, RawArticle

COPY_CONTAINMENT = 0.5


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def groups_of(row: dict) -> set[str]:
    return {g for g in row.get("event_groups") or [] if not g.startswith("DN")}


def pairwise(gold: list[dict], events: list[dict]) -> dict:
    ids = [row["id"] for row in gold]
    groups = {row["id"]: groups_of(row) for row in gold}
    negative_only = {row["id"]: set(row.get("event_groups") or []) - groups[row["id"]] for row in gold}
    together: set[tuple[str, str]] = set()
    for event in events:
        members = sorted({m["article_id"] for m in event["mentions"]} & set(ids))
        together.update(itertools.combinations(members, 2))
    published = {row["id"]: row.get("published") for row in gold}
    tp = fp = fn = 0
    kinds: dict[str, list[int]] = {}
    for a, b in itertools.combinations(sorted(ids), 2):
        gold_pair = bool(groups[a] & groups[b])
        if not gold_pair and negative_only[a] & negative_only[b]:
            continue
        predicted = (a, b) in together
        tp += gold_pair and predicted
        fp += predicted and not gold_pair
        fn += gold_pair and not predicted
        if gold_pair:
            kinds.setdefault(pair_kind(published[a], published[b]), [0, 0])[0 if predicted else 1] += 1
    return {"true_pairs": tp, "false_pairs": fp, "missed_pairs": fn,
            "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / (tp + fn), 3) if tp + fn else None,
            "found_by_kind": {k: f"{found}/{found + missed}" for k, (found, missed) in sorted(kinds.items())}}


def pair_kind(a: str | None, b: str | None) -> str:
    """What the publication dates of a gold pair allow: 'undated', 'month-only', 'dated<=10d' or 'dated>10d'."""
    if not a or not b:
        return "undated"
    if len(a) < 10 or len(b) < 10:
        return "month-only"
    days = abs((date.fromisoformat(a[:10]) - date.fromisoformat(b[:10])).days)
    return "dated<=10d" if days <= 10 else "dated>10d"


def gold_copies(gold: list[dict]) -> list[tuple[str, str, float]]:
    sets = {row["id"]: shingles(row.get("title") or "", row.get("text") or "") for row in gold}
    copies = []
    for a, b in itertools.combinations(gold, 2):
        if not set(a.get("event_groups") or []) & set(b.get("event_groups") or []):
            continue
        sa, sb = sets[a["id"]], sets[b["id"]]
        if sa and sb and len(sa & sb) / min(len(sa), len(sb)) >= COPY_CONTAINMENT:
            copies.append((a["id"], b["id"], round(len(sa & sb) / min(len(sa), len(sb)), 2)))
    return copies


def duplicate_flags(gold: list[dict], articles: list[dict]) -> dict:
    cluster = {}
    for row in articles:
        art = row["article"]["id"]
        cluster[art] = row.get("cluster_id") or row.get("duplicate_of") or art
    copies = gold_copies(gold)
    found = [c for c in copies if c[0] in cluster and cluster[c[0]] == cluster.get(c[1])]
    group = {row["id"]: set(row.get("event_groups") or []) for row in gold}
    false_flags = sorted((row["article"]["id"], row["duplicate_of"]) for row in articles
                         if row.get("duplicate_of") and row["article"]["id"] in group
                         and not group[row["article"]["id"]] & group.get(row["duplicate_of"], set()))
    return {"gold_copies": len(copies), "flagged": len(found), "missed": sorted(set(copies) - set(found)),
            "marked_duplicates": sum(1 for row in articles if row.get("duplicate_of")),
            "false_flags": false_flags}


def new_alerts_per_group(gold: list[dict], events: list[dict], alerts: list[dict]) -> dict:
    group_of = {row["id"]: groups_of(row) for row in gold}
    members: dict[str, set[str]] = {}
    types: dict[str, Counter] = {}
    for row in gold:
        for g in group_of[row["id"]]:
            members.setdefault(g, set()).add(row["id"])
            types.setdefault(g, Counter()).update({e["type"] for e in row.get("events") or []})
    main_type = {g: min(c, key=lambda t: (-c[t], t)) for g, c in types.items() if c}
    new_by_event = Counter(a["event_id"] for a in alerts if a["kind"] == "new")
    per_group: Counter = Counter()
    for event in events:
        arts = {m["article_id"] for m in event["mentions"]}
        votes = Counter(g for a in arts for g in group_of.get(a, ()))
        if not votes:
            continue
        top = min(votes, key=lambda g: (-votes[g], g))
        if event["type"] == main_type.get(top) and votes[top] * 2 >= len(arts):
            per_group[top] += new_by_event[event["event_id"]]
    counts = {g: per_group.get(g, 0) for g in sorted(members)}
    return {"groups": len(counts), "groups_over_one": sorted(g for g, n in counts.items() if n > 1),
            "groups_with_none": sorted(g for g, n in counts.items() if n == 0),
            "max_new_alerts_in_a_group": max(counts.values(), default=0)}


def score_dir(out_dir: Path, gold: list[dict]) -> dict:
    """All grouping figures of one replay output directory."""
    events, alerts = read_jsonl(out_dir / "events.jsonl"), read_jsonl(out_dir / "alerts.jsonl")
    articles = read_jsonl(out_dir / "articles.jsonl")
    return {"pairwise": pairwise(gold, events), "duplicates": duplicate_flags(gold, articles),
            "new_alerts": new_alerts_per_group(gold, events, alerts),
            "counts": {"articles": len(articles), "events": len(events), "alerts": len(alerts),
                       "alerts_by_kind": dict(sorted(Counter(a["kind"] for a in alerts).items()))}}


# ---------------------------------------------------------------- gold labels as the extraction (development)

def _gazetteer() -> list[tuple[re.Pattern, dict]]:
    """Places of the extraction ontology (best effort: an empty list if its format is not the expected one)."""
    import yaml

    try:
        data = yaml.safe_load((Path(__file__).parent / "extraction" / "ontology.yaml").read_text(encoding="utf-8"))
        return [(re.compile("|".join(p["aliases"]), re.IGNORECASE), p) for p in data.get("places", [])]
    except (OSError, KeyError, TypeError, re.error, yaml.YAMLError):
        return []


def gold_location(name: str | None, places) -> Location | None:
    if not name:
        return None
    rank = {"country": 0, "region": 1, "city": 2, "exact": 3}
    hits = [p for pattern, p in places if pattern.search(name)]
    if not hits:
        return Location(name=name)
    p = max(hits, key=lambda h: rank.get(h.get("precision", "city"), 0))
    return Location(name=p["name"], country=p.get("country"), lat=p.get("lat"), lon=p.get("lon"),
                    precision=p.get("precision", "city"))


def gold_event(label: dict, text: str, places) -> ExtractedEvent:
    quantities = {}
    for name, value in (label.get("quantities") or {}).items():
        low, high = (value[0], value[1]) if isinstance(value, list) else (value, value)
        if isinstance(low, (int, float)) and isinstance(high, (int, float)):
            quantities[name] = Quantity(low=int(low), high=int(high))
        else:
            quantities[name] = Quantity(vague=True)
    evidence = None
    if label.get("evidence") and label["evidence"] in text:
        start = text.index(label["evidence"])
        evidence = Evidence(text=label["evidence"], start=start, end=start + len(label["evidence"]))
    return ExtractedEvent(type=label["type"], actors=[Actor(code=c) for c in label.get("actors") or []],
                          location=gold_location(label.get("location"), places), quantities=quantities,
                          event_date=label.get("event_date"), modality=label.get("modality") or "asserted",
                          source_of_claim=label.get("source_of_claim"), evidence=evidence, confidence=1.0)


def gold_as_enriched(gold: list[dict]) -> list[EnrichedArticle]:
    places = _gazetteer()
    return [EnrichedArticle(article=RawArticle.model_validate(row), relevant=bool(row.get("relevant")),
                            relevance_score=1.0 if row.get("relevant") else 0.0,
                            events=[gold_event(e, row.get("text") or "", places) for e in row.get("events") or []],
                            ontology_version="gold") for row in gold]


def run_gold_events(gold: list[dict], out_dir: Path) -> None:
    """Dedup → mentions → merge → alerts over the gold labels, without Beam; writes the replay's files."""
    from pipeline.alerting import alerts_batch, load_rules
    from pipeline.dedup_match import deduplicate_batch
    from pipeline.merge_build import merge_batch
    from pipeline.stages import mentions_of

    articles = deduplicate_batch(gold_as_enriched(gold))
    merged = merge_batch([m for a in articles for m in mentions_of(a)])
    alerts = alerts_batch(merged.revisions, load_rules())
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, records in (("articles", sorted(articles, key=lambda a: a.article.id)),
                          ("events", merged.events),
                          ("alerts", sorted(alerts, key=lambda a: (a.event_id, a.revision)))):
        with open(out_dir / f"{name}.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(r.model_dump_json() + "\n" for r in records)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--gold-events", action="store_true", help="use the gold labels as the extraction")
    parser.add_argument("--no-run", action="store_true", help="score an existing output directory")
    args = parser.parse_args(argv)
    gold = read_jsonl(args.gold)
    if args.gold_events:
        run_gold_events(gold, args.out)
    elif not args.no_run:
        from pipeline.replay import run_replay

        run_replay([args.gold], args.out)
    figures = score_dir(args.out, gold)
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    return figures


if __name__ == "__main__":
    main()
