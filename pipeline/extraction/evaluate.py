"""Evaluation: labelled rows (gold JSONL fields) + ontology → quality report (dict) and its printable table.

Metrics (issue 4): relevance P/R/F1 over articles; event-type micro P/R/F1 over (article, type) pairs with
`other` ignored on both sides; per gold event (type ≠ other), end to end against the predicted events of the
same type in the same article: quantities (every gold number among the predicted figures; events with at
least one number), actors (every gold code among the predicted actors), location (predicted and gold names
contain one another, case-insensitively; events with a gold location), evidence (a predicted evidence span
overlaps the gold sentence), modality (a predicted event has the gold modality).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pipeline.extraction.ontology import Ontology
from pipeline.extraction.quantities import parse_quantity
from schemas.records import Extraction, RawArticle

END_TO_END = ("quantities", "actors", "location", "evidence", "modality")
FLOORS = {"relevance_precision": 0.97, "relevance_recall": 0.95, "event_type_f1": 0.85, "quantities": 0.85,
          "actors": 0.90, "location": 0.80, "evidence": 0.90, "modality": 0.80}


def article_from_row(row: dict[str, Any]) -> RawArticle:
    """The extractor's input for one labelled row (labels are not passed on)."""
    return RawArticle.model_validate({"id": row["id"], "url": row.get("url"), "title": row.get("title") or "",
                                      "text": row.get("text") or "", "published": row.get("published"),
                                      "language": row.get("language"), "outlet": row.get("outlet")})


def gold_numbers(value: Any) -> set[float]:
    """Numbers of a gold quantity: 12000, [10000, 12000], "over 13,000" → {13000}, "thousands" → set()."""
    if isinstance(value, bool) or value is None:
        return set()
    if isinstance(value, (int, float)):
        return {float(value)}
    if isinstance(value, list):
        return {n for item in value for n in gold_numbers(item)}
    parsed = parse_quantity(str(value))
    if parsed is None or parsed.vague:
        return set()
    return {float(n) for n in (parsed.low, parsed.high) if n is not None}


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp, "fp": fp, "fn": fn}


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _judge(gold: dict[str, Any], text: str, predicted: list[Any]) -> dict[str, bool | None]:
    """Per end-to-end criterion: True/False, or None when the gold event does not take part in it."""
    numbers = {n for v in (gold.get("quantities") or {}).values() for n in gold_numbers(v)}
    found_numbers = {float(n) for e in predicted for q in e.quantities.values() for n in (q.low, q.high)
                     if n is not None}
    codes = {a.code for e in predicted for a in e.actors}
    names = [e.location.name.casefold() for e in predicted if e.location]
    gold_loc = (gold.get("location") or "").casefold().strip()
    start = text.find(gold.get("evidence") or "\0")
    span = (start, start + len(gold["evidence"])) if start >= 0 else None
    return {
        "quantities": (numbers <= found_numbers) if numbers else None,
        "actors": set(gold.get("actors") or []) <= codes if gold.get("actors") else None,
        "location": any(gold_loc in n or n in gold_loc for n in names) if gold_loc else None,
        "evidence": any(e.evidence and _overlaps(span, (e.evidence.start, e.evidence.end)) for e in predicted)
        if span else None,
        "modality": any(e.modality == gold.get("modality") for e in predicted),
    }


def evaluate(gold_rows: list[dict[str, Any]], ontology: Ontology, *, details: bool = False) -> dict[str, Any]:
    """Run `extract` on every row and score it against the row's labels (see module docstring)."""
    from pipeline.extraction import extract

    rel = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    pairs_gold: set[tuple[str, str]] = set()
    pairs_pred: set[tuple[str, str]] = set()
    e2e: dict[str, list[int]] = {k: [0, 0] for k in END_TO_END}
    per_type_e2e: dict[str, dict[str, list[int]]] = defaultdict(lambda: {k: [0, 0] for k in END_TO_END})
    gold_events_by_type: dict[str, int] = defaultdict(int)
    misses: list[dict[str, Any]] = []
    for row in gold_rows:
        out: Extraction = extract(article_from_row(row), ontology)
        gold_rel = bool(row.get("relevant"))
        key = ("tp" if out.relevant else "fn") if gold_rel else ("fp" if out.relevant else "tn")
        rel[key] += 1
        if details and key in {"fp", "fn"}:
            misses.append({"id": row["id"], "kind": f"relevance_{key}", "score": out.relevance_score})
        by_type: dict[str, list[Any]] = defaultdict(list)
        for e in out.events:
            by_type[e.type].append(e)
            if e.type != "other":
                pairs_pred.add((row["id"], e.type))
        for gold in (row.get("events") or []) if gold_rel else []:
            if gold["type"] == "other":
                continue
            pairs_gold.add((row["id"], gold["type"]))
            gold_events_by_type[gold["type"]] += 1
            verdict = _judge(gold, row.get("text") or "", by_type.get(gold["type"], []))
            for k, ok in verdict.items():
                if ok is None:
                    continue
                ok = bool(ok)
                e2e[k][1] += 1
                per_type_e2e[gold["type"]][k][1] += 1
                if ok:
                    e2e[k][0] += 1
                    per_type_e2e[gold["type"]][k][0] += 1
                elif details:
                    misses.append({"id": row["id"], "kind": k, "type": gold["type"], "gold": gold,
                                   "predicted": [e.model_dump() for e in by_type.get(gold["type"], [])]})
        if details:
            for predicted_type in {e.type for e in out.events} - {"other"}:
                if (row["id"], predicted_type) not in pairs_gold:
                    ev = by_type[predicted_type][0].evidence
                    misses.append({"id": row["id"], "kind": "type_fp", "type": predicted_type,
                                   "evidence": ev.text if ev else None})
    types = sorted({t for _, t in pairs_gold | pairs_pred})
    per_type = {}
    for t in types:
        g = {p for p in pairs_gold if p[1] == t}
        pr = {p for p in pairs_pred if p[1] == t}
        row_metrics: dict[str, Any] = _prf(len(g & pr), len(pr - g), len(g - pr))
        row_metrics["gold_events"] = gold_events_by_type.get(t, 0)
        for k in END_TO_END:
            found, total = per_type_e2e[t][k]
            row_metrics[k] = round(found / total, 4) if total else None
        per_type[t] = row_metrics
    report: dict[str, Any] = {
        "ontology_version": ontology.version,
        "articles": len(gold_rows),
        "relevance": {**_prf(rel["tp"], rel["fp"], rel["fn"]), "tn": rel["tn"]},
        "event_types": _prf(len(pairs_gold & pairs_pred), len(pairs_pred - pairs_gold), len(pairs_gold - pairs_pred)),
        "end_to_end": {k: {"found": ok, "total": n, "rate": round(ok / n, 4) if n else None}
                       for k, (ok, n) in e2e.items()},
        "per_type": per_type,
    }
    report["floors"] = {name: {"floor": floor, "value": _metric(report, name),
                               "ok": (_metric(report, name) or 0.0) >= floor} for name, floor in FLOORS.items()}
    if details:
        report["misses"] = misses
    return report


def _metric(report: dict[str, Any], name: str) -> float | None:
    if name.startswith("relevance_"):
        return report["relevance"][name.split("_", 1)[1]]
    if name == "event_type_f1":
        return report["event_types"]["f1"]
    return report["end_to_end"][name]["rate"]


def _pct(value: float | None) -> str:
    return "   –  " if value is None else f"{value:6.3f}"


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table of the report: headline metrics, floors, then one line per event type."""
    rel, et = report["relevance"], report["event_types"]
    lines = [
        f"ontology {report['ontology_version']} · {report['articles']} articles",
        "",
        f"{'metric':<26}{'precision':>10}{'recall':>10}{'f1':>10}{'tp':>6}{'fp':>6}{'fn':>6}",
        f"{'relevance (articles)':<26}{rel['precision']:>10.3f}{rel['recall']:>10.3f}{rel['f1']:>10.3f}"
        f"{rel['tp']:>6}{rel['fp']:>6}{rel['fn']:>6}",
        f"{'event types (pairs)':<26}{et['precision']:>10.3f}{et['recall']:>10.3f}{et['f1']:>10.3f}"
        f"{et['tp']:>6}{et['fp']:>6}{et['fn']:>6}",
        "",
        f"{'per gold event':<26}{'found':>10}{'of':>6}{'rate':>10}",
    ]
    for k, v in report["end_to_end"].items():
        lines.append(f"{k:<26}{v['found']:>10}{v['total']:>6}{_pct(v['rate']):>10}")
    lines += ["", f"{'floor':<26}{'value':>10}{'floor':>8}  ok"]
    for name, f in report["floors"].items():
        lines.append(f"{name:<26}{_pct(f['value']):>10}{f['floor']:>8.2f}  {'yes' if f['ok'] else 'NO'}")
    head = f"{'event type':<31}{'gold':>5}{'P':>7}{'R':>7}{'F1':>7}" + "".join(f"{k[:5]:>7}" for k in END_TO_END)
    lines += ["", head, "-" * len(head)]
    for t, m in report["per_type"].items():
        lines.append(f"{t:<31}{m['gold_events']:>5}{m['precision']:>7.2f}{m['recall']:>7.2f}{m['f1']:>7.2f}"
                     + "".join(f"{_pct(m[k]).strip():>7}" for k in END_TO_END))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.extraction.evaluate --gold FILE [--json]`` (what ``nkru eval`` runs)."""
    import argparse
    import json
    from pathlib import Path

    from pipeline.extraction.ontology import load_ontology

    parser = argparse.ArgumentParser(description="Score the extractor against a labelled JSONL file.")
    parser.add_argument("--gold", type=Path, required=True)
    parser.add_argument("--ontology", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    report = evaluate(rows, load_ontology(args.ontology))
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else format_report(report))
    return 0 if all(f["ok"] for f in report["floors"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
