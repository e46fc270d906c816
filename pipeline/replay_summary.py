"""The outputs and summary of a replay: shard files merged into sorted JSONL files, and summary.json built
from the inventory, the job's counters and the merged files, accounting for every file, item and article.

Everything here is a function of the input alone (no times, no paths of temporary files), so a re-run of
the same replay writes byte-identical files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from pipeline.dedup import band_reports_missing
from pipeline.sources import DOCUMENT, JSONL, WARC, Inventory

OUTPUTS = ("articles", "events", "alerts", "dead_letters")

SORT_KEYS: dict[str, Callable[[dict], tuple]] = {
    "articles": lambda r: (r["article"]["id"],),
    "events": lambda r: (r["event_id"], r["revision"]),
    "alerts": lambda r: (r["event_id"], r["revision"], r["alert_id"]),
    "dead_letters": lambda r: (r["stage"], r.get("payload_ref") or "", r.get("reason") or "", r.get("error") or ""),
}


def _rows(parts: Iterable[Path]) -> Iterable[tuple[str, dict]]:
    for part in parts:
        with open(part, encoding="utf-8") as fh:
            for line in fh:
                line = line.rstrip("\n")
                if line.strip():
                    yield line, json.loads(line)


def merge_sorted(parts: Iterable[Path], target: Path, sort_key: Callable[[dict], tuple],
                 stats: Callable[[dict], None] | None = None) -> int:
    """Shard files → `target`, one record a line, sorted by `sort_key` then by the line itself; return count."""
    keyed = []
    for line, row in _rows(parts):
        keyed.append((sort_key(row), line))
        if stats is not None:
            stats(row)
    keyed.sort()
    with open(target, "w", encoding="utf-8") as out:
        for _, line in keyed:
            out.write(line + "\n")
    return len(keyed)


def latest_revisions(parts: Iterable[Path], target: Path) -> int:
    """events.jsonl holds each canonical event once, at its latest revision (ties: the larger line)."""
    latest: dict[str, tuple[int, str]] = {}
    for line, row in _rows(parts):
        candidate = (row["revision"], line)
        known = latest.get(row["event_id"])
        if known is None or candidate > known:
            latest[row["event_id"]] = candidate
    with open(target, "w", encoding="utf-8") as out:
        out.writelines(latest[event_id][1] + "\n" for event_id in sorted(latest))
    return len(latest)


class OutputStats:
    """What the merged files say: relevant articles, near-duplicates, dead letters by stage."""

    def __init__(self) -> None:
        self.relevant = 0
        self.near_duplicates = 0
        self.dead_by_stage: dict[str, int] = {}

    def article(self, row: dict) -> None:
        self.relevant += bool(row["relevant"])
        self.near_duplicates += row.get("duplicate_of") is not None

    def dead_letter(self, row: dict) -> None:
        self.dead_by_stage[row["stage"]] = self.dead_by_stage.get(row["stage"], 0) + 1


def finish_outputs(parts: Path, out_dir: Path) -> tuple[dict[str, int], OutputStats]:
    stats = OutputStats()
    hooks = {"articles": stats.article, "dead_letters": stats.dead_letter}
    counts = {}
    for name in OUTPUTS:
        shards = sorted(parts.glob(f"{name}-*.jsonl"))
        target = out_dir / f"{name}.jsonl"
        counts[name] = (latest_revisions(shards, target) if name == "events"
                        else merge_sorted(shards, target, SORT_KEYS[name], hooks.get(name)))
    return counts, stats


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def source_summary(inventory: Inventory, m: dict[str, int], since: datetime | None = None,
                   until: datetime | None = None) -> dict:
    """Inputs and the accounting of every item and article read, from the job's counters `m`."""
    get = lambda name: m.get(f"source.{name}", 0)
    items = get("entries") + get("lines") + get("pages")
    articles_read = get("articles_read")
    parsed = articles_read + get("item_dead_letters") + get("duplicates_in_document") + get("over_entry_limit")
    unique = m.get("replay.unique_articles", 0)
    repeats = articles_read - unique  # dropped within read units while reading, and by the keyed collapse
    into_graph = m.get("replay.into_graph", 0)
    outside = m.get("replay.outside_time_range", 0)
    return {
        "inputs": {
            "files": len(inventory.files) + len(inventory.skipped), "files_read": get("files_read"),
            "bytes": get("bytes"), "skipped_files": dict(sorted(inventory.skipped.items())),
            "documents": inventory.count(DOCUMENT), "feed_documents": get("feed_documents"),
            "entries_exports": get("entries_exports"), "jsonl_files": inventory.count(JSONL),
            "warc_files": inventory.count(WARC), "warc_records": get("warc_records"),
            "warc_other_records": get("warc_other_records"), "pages": get("pages"),
            "lines": get("lines"), "entries": get("entries"),
        },
        "accounting": {
            "items": items, "articles_read": articles_read, "item_dead_letters": get("item_dead_letters"),
            "duplicates_within_document": get("duplicates_in_document"),
            "over_entry_limit": get("over_entry_limit"), "document_dead_letters": get("document_dead_letters"),
            "repeats_collapsed": repeats, "unique_articles": unique, "outside_time_range": outside,
            "into_graph": into_graph,
            "balanced": items == parsed and unique == outside + into_graph,
        },
        "time_range": {"since": _iso(since), "until": _iso(until), "on": "published"},
        "documents": get("files_read") or len(inventory.files),
    }


def replay_summary(inventory: Inventory, m: dict[str, int], counts: dict[str, int], stats: OutputStats,
                   since: datetime | None = None, until: datetime | None = None) -> dict:
    summary = source_summary(inventory, m, since, until)
    summary.update({
        "extract": {"articles_in": m.get("extract.relevant", 0) + m.get("extract.irrelevant", 0),
                    "relevant": m.get("extract.relevant", 0), "irrelevant": m.get("extract.irrelevant", 0),
                    "dead_letters": m.get("extract.dead_letters", 0)},
        "dedup": {"exact_duplicates_dropped": m.get("dedup.exact_duplicates", 0)
                  + summary["accounting"]["repeats_collapsed"],
                  "repeats_collapsed_before_extraction": summary["accounting"]["repeats_collapsed"],
                  "exact_duplicates_dropped_in_graph": m.get("dedup.exact_duplicates", 0),
                  "near_duplicates_marked": stats.near_duplicates,
                  "band_reports_missing": band_reports_missing(m)},
        "outputs": {"articles": counts["articles"], "relevant_articles": stats.relevant, "events": counts["events"],
                    "alerts": counts["alerts"], "dead_letters": counts["dead_letters"]},
        "dead_letters_by_stage": dict(sorted(stats.dead_by_stage.items())),
        "metrics": dict(sorted(m.items())),
    })
    # every article into the graph comes out enriched, is an exact duplicate, or is an extraction dead letter
    accounted = counts["articles"] + m.get("dedup.exact_duplicates", 0) + m.get("extract.dead_letters", 0)
    summary["accounting"]["missing_in_graph"] = summary["accounting"]["into_graph"] - accounted
    return summary
