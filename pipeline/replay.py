"""`nkru replay`: the same graph, bounded, over archived input → DIR/{articles,events,alerts,dead_letters}.jsonl
and DIR/summary.json (counts in and out of each stage).

Outputs are sorted by their keys, so re-running a replay over the same input gives identical files.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter

from pipeline.graph import GraphConfig, build_graph
from pipeline.io import (
    ReadArticlesJsonl,
    ReadFeedDocuments,
    WriteJsonl,
    fetch_time_of,
    list_documents,
    merge_shards,
)
from pipeline.runners import runner_options
from pipeline.stages import DEAD

log = logging.getLogger(__name__)

OUTPUTS = ("articles", "events", "alerts", "dead_letters")


class ReplayError(ValueError):
    """The replay's input or output location is unusable; the message says which and why."""


@dataclass
class Sources:
    jsonl: list[str]
    documents: list[tuple[str, str]]  # (path, fetch time ISO)

    @property
    def empty(self) -> bool:
        return not self.jsonl and not self.documents


def classify_sources(paths: list[Path]) -> Sources:
    """Split the arguments into JSONL article files and raw feed documents (files or directory trees)."""
    jsonl, documents = [], []
    for path in paths:
        if not path.exists():
            raise ReplayError(f"replay source {path} does not exist")
        if path.is_file() and path.suffix == ".jsonl":
            jsonl.append(str(path))
            continue
        for doc in list_documents(path):
            if doc.suffix == ".jsonl":
                jsonl.append(str(doc))
            else:
                documents.append((str(doc), fetch_time_of(doc).isoformat()))
    return Sources(jsonl=jsonl, documents=documents)


def _event_sort_key(row: dict):
    return (row["event_id"], row["revision"])


SORT_KEYS = {
    "articles": lambda r: (r["article"]["id"],),
    "events": _event_sort_key,
    "alerts": lambda r: (r["event_id"], r["revision"], r["alert_id"]),
    "dead_letters": lambda r: (r["stage"], r.get("payload_ref") or "", r.get("reason") or "", r.get("error") or ""),
}


def build_replay_pipeline(pipeline: beam.Pipeline, sources: Sources, config: GraphConfig, parts: Path):
    articles, dead = [], []
    if sources.jsonl:
        read = pipeline | "ReadJsonl" >> ReadArticlesJsonl(sources.jsonl)
        articles.append(read.articles)
        dead.append(read[DEAD])
    if sources.documents:
        read = pipeline | "ReadDocuments" >> ReadFeedDocuments(sources.documents)
        articles.append(read.articles)
        dead.append(read[DEAD])
    merged = tuple(articles) | "AllArticles" >> beam.Flatten()
    out = build_graph(merged, config, upstream_dead=dead)
    out.enriched | "WriteArticles" >> WriteJsonl(str(parts / "articles"))
    out.events | "WriteEvents" >> WriteJsonl(str(parts / "events"))
    out.alerts | "WriteAlerts" >> WriteJsonl(str(parts / "alerts"))
    out.dead_letters | "WriteDeadLetters" >> WriteJsonl(str(parts / "dead_letters"))
    return out


def run_replay(paths: list[Path], out_dir: Path, config: GraphConfig | None = None, runner: str = "prism",
               runner_args: list[str] | None = None) -> dict:
    """Replay `paths` through the graph into `out_dir`; return the summary written to summary.json."""
    config = config or GraphConfig()
    sources = classify_sources(paths)
    if sources.empty:
        raise ReplayError("no input found in " + ", ".join(str(p) for p in paths))
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = out_dir / ".parts"
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir()
    options = runner_options(runner, streaming=False, extra=runner_args)
    pipeline = beam.Pipeline(options=options)
    build_replay_pipeline(pipeline, sources, config, parts)
    result = pipeline.run()
    result.wait_until_finish()
    counts = {name: _finish_output(parts, out_dir, name) for name in OUTPUTS}
    summary = _summary(sources, counts, out_dir, _metrics(result))
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(parts, ignore_errors=True)
    return summary


def _finish_output(parts: Path, out_dir: Path, name: str) -> int:
    shards = sorted(parts.glob(f"{name}-*.jsonl"))
    target = out_dir / f"{name}.jsonl"
    if name == "events":
        return _latest_revisions(shards, target)
    return merge_shards(shards, target, SORT_KEYS[name])


def _latest_revisions(shards: list[Path], target: Path) -> int:
    """events.jsonl holds each canonical event once, at its latest revision."""
    latest: dict[str, tuple[int, str]] = {}
    for shard in shards:
        with open(shard, encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                row = json.loads(line)
                known = latest.get(row["event_id"])
                if known is None or row["revision"] > known[0]:
                    latest[row["event_id"]] = (row["revision"], line.rstrip("\n"))
    with open(target, "w", encoding="utf-8") as out:
        for event_id in sorted(latest):
            out.write(latest[event_id][1] + "\n")
    return len(latest)


def _metrics(result) -> dict[str, int]:
    try:
        counters = result.metrics().query(MetricsFilter())["counters"]
    except Exception:  # noqa: BLE001 - a runner without metrics still gets a summary from the files
        log.warning("the runner returned no metrics; summary.json counts come from the output files only")
        return {}
    totals: dict[str, int] = {}
    for counter in counters:
        name = f"{counter.key.metric.namespace}.{counter.key.metric.name}"
        totals[name] = totals.get(name, 0) + (counter.committed or counter.attempted or 0)
    return totals


def _summary(sources: Sources, counts: dict[str, int], out_dir: Path, metrics: dict[str, int]) -> dict:
    dead_by_stage: dict[str, int] = {}
    with open(out_dir / "dead_letters.jsonl", encoding="utf-8") as fh:
        for line in fh:
            stage = json.loads(line)["stage"]
            dead_by_stage[stage] = dead_by_stage.get(stage, 0) + 1
    relevant = duplicates = 0
    with open(out_dir / "articles.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            relevant += row["relevant"]
            duplicates += row.get("duplicate_of") is not None
    return {
        "inputs": {"jsonl_files": len(sources.jsonl), "documents": len(sources.documents),
                   "lines": metrics.get("source.lines"), "entries": metrics.get("source.entries")},
        "extract": {"articles_in": metrics.get("extract.relevant", 0) + metrics.get("extract.irrelevant", 0),
                    "relevant": metrics.get("extract.relevant"), "irrelevant": metrics.get("extract.irrelevant"),
                    "dead_letters": metrics.get("extract.dead_letters", 0)},
        "dedup": {"exact_duplicates_dropped": metrics.get("dedup.exact_duplicates", 0),
                  "near_duplicates_marked": duplicates},
        "outputs": {"articles": counts["articles"], "relevant_articles": relevant, "events": counts["events"],
                    "alerts": counts["alerts"], "dead_letters": counts["dead_letters"]},
        "dead_letters_by_stage": dict(sorted(dead_by_stage.items())),
        "documents": len(sources.documents),
        "metrics": dict(sorted(metrics.items())),
    }
