"""The whole graph's functions in a plain loop, no Beam: JSONL of RawArticle → articles, events, alerts (JSONL).

extract (as `ExtractFn` builds EnrichedArticle) → `deduplicate_batch` → `mentions_of` → `merge_batch` →
`alerts_batch`: the pure functions the graph's stages and ordered folds run, each on the whole bounded input
(what `nkru replay` computes, without its plumbing). The reference for the plumbing tax in
`bench_throughput.py`; counts go to stdout as JSON so that they can be compared with the replay's summary.

    .venv/bin/python bench/graph_loop.py INPUT.jsonl OUTDIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.alerting import alerts_batch, load_rules
from pipeline.dedup_match import deduplicate_batch
from pipeline.extraction import extract, load_ontology
from pipeline.merge_build import merge_batch
from pipeline.stages import mentions_of
from schemas.records import EnrichedArticle, RawArticle


def run(source: Path, out: Path) -> dict:
    ontology, rules = load_ontology(None), load_rules(None)
    enriched = []
    with source.open(encoding="utf-8") as lines:
        for line in lines:
            article = RawArticle.model_validate_json(line)
            result = extract(article, ontology)
            enriched.append(EnrichedArticle(article=article, relevant=result.relevant,
                                            relevance_score=result.relevance_score,
                                            events=result.events if result.relevant else [],
                                            ontology_version=result.ontology_version))
    marked = deduplicate_batch(enriched)
    mentions = [m for e in marked for m in mentions_of(e)]
    merged = merge_batch(mentions)
    alerts = alerts_batch(merged.revisions, rules)
    out.mkdir(parents=True, exist_ok=True)
    for name, records in (("articles", marked), ("events", merged.events), ("alerts", alerts)):
        with (out / f"{name}.jsonl").open("w", encoding="utf-8") as sink:
            sink.writelines(r.model_dump_json() + "\n" for r in records)
    return {"articles": len(marked), "near_duplicates": sum(e.duplicate_of is not None for e in marked),
            "relevant_articles": sum(e.relevant for e in marked), "mentions": len(mentions),
            "revisions": len(merged.revisions), "events": len(merged.events), "alerts": len(alerts)}


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]), Path(sys.argv[2]))))
