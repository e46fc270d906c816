"""Benchmark: where the time of a replay goes, stage by stage, against a plain loop over the same input.

Stages (each a separate run over the same SOURCES):

    loop      no Beam: read every file with the replay's readers, collapse repeats, extract each article once
    sources   Prism: read + collapse repeats (+ time range) → raw articles written as JSONL
    extract   Prism: sources + ExtractEvents → enriched articles written as JSONL (no dedup, merge, alerts)
    graph     Prism: the whole `run_replay` (sources + build_graph + outputs + summary.json)

For each: wall seconds, CPU seconds of this process and of its children (the Prism runner), items/s (feed
entries, export entries, JSONL lines, WARC pages), articles/s (unique articles into the graph), and the peak
resident memory of the process tree (sampled every 0.5 s). `plumbing` = stage wall / loop wall.

    .venv/bin/python bench/bench_replay.py /work/shared/corpora/feed-archive/raw/arstechnica-index \\
        [--stages loop,sources,extract,graph] [--out /tmp/bench-replay] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STAGES = ("loop", "sources", "extract", "graph")


class TreeMemory:
    """Peak summed RSS of this process and its descendants, sampled in a thread."""

    def __init__(self, interval: float = 0.5):
        self.interval, self.peak_kb, self._stop = interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_kb = max(self.peak_kb, sum(_rss_kb(p) for p in _tree(os.getpid())))


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo.extend(int(c) for c in task.read_text().split())
            except OSError:
                pass
    return found


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu() -> tuple[float, float]:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def run_loop(paths: list[Path], out: Path) -> dict:
    """The plain loop: same readers and collapse rule, then `extract` once per article; no Beam."""
    from pipeline.extraction import extract, load_ontology
    from pipeline.sources import discover, earlier
    from pipeline.sources_read import Tally, read_unit
    from schemas.records import RawArticle

    counts, kept = Tally(), {}
    for unit in discover(paths).units():
        for record in read_unit(unit, counts):
            if isinstance(record, RawArticle):
                known = kept.get(record.id)
                kept[record.id] = record if known is None else earlier(known, record)
    ontology = load_ontology(None)
    relevant = sum(extract(article, ontology).relevant for article in kept.values())
    return {"items": counts["entries"] + counts["lines"] + counts["pages"], "articles": len(kept),
            "relevant": relevant}


def run_partial(paths: list[Path], out: Path, with_extract: bool) -> dict:
    import apache_beam as beam

    from pipeline.graph import GraphConfig
    from pipeline.io import WriteJsonl
    from pipeline.replay import ReplayOptions, final_counters, read_sources, replay_runner_options, take_inventory
    from pipeline.stages import ExtractEvents

    inventory = take_inventory(paths)
    pipeline = beam.Pipeline(options=replay_runner_options("prism", []))
    articles, _ = read_sources(pipeline, inventory, ReplayOptions())
    if with_extract:
        articles = (articles | "ExtractEvents" >> ExtractEvents(GraphConfig().ontology()))[ExtractEvents.MAIN]
    articles | "Write" >> WriteJsonl(str(out / "part"))
    result = pipeline.run()
    result.wait_until_finish()
    m = final_counters(result)
    return {"items": sum(m.get(f"source.{k}", 0) for k in ("entries", "lines", "pages")),
            "articles": m.get("replay.into_graph", 0), "relevant": m.get("extract.relevant")}


def run_graph(paths: list[Path], out: Path) -> dict:
    from pipeline.replay import ReplayOptions, run_replay

    summary = run_replay(paths, out, options=ReplayOptions(progress=False))
    return {"items": summary["accounting"]["items"], "articles": summary["accounting"]["into_graph"],
            "relevant": summary["extract"]["relevant"], "outputs": summary["outputs"]}


def measure(stage: str, paths: list[Path], out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    run = {"loop": run_loop, "sources": lambda p, o: run_partial(p, o, False),
           "extract": lambda p, o: run_partial(p, o, True), "graph": run_graph}[stage]
    cpu0, kids0 = _cpu()
    start = time.monotonic()
    with TreeMemory() as memory:
        result = run(paths, out)
    wall = time.monotonic() - start
    cpu1, kids1 = _cpu()
    return {"stage": stage, "wall_s": round(wall, 1), "cpu_s": round(cpu1 - cpu0, 1),
            "children_cpu_s": round(kids1 - kids0, 1), "items_per_s": round(result["items"] / wall),
            "articles_per_s": round(result["articles"] / wall), "peak_tree_rss_mb": round(memory.peak_kb / 1024),
            **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="+", type=Path)
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated, from: " + ", ".join(STAGES))
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-replay"))
    parser.add_argument("--json", action="store_true", help="one JSON line per stage instead of a table")
    args = parser.parse_args()
    rows = []
    for stage in args.stages.split(","):
        row = measure(stage.strip(), args.sources, args.out / stage.strip())
        rows.append(row)
        print(json.dumps(row) if args.json else _line(row, rows), flush=True)


def _line(row: dict, rows: list[dict]) -> str:
    loop = next((r for r in rows if r["stage"] == "loop"), None)
    ratio = f"  plumbing {row['wall_s'] / loop['wall_s']:.2f}×" if loop and row is not loop else ""
    return (f"{row['stage']:8} {row['wall_s']:7.1f} s wall  cpu {row['cpu_s']:6.1f} s (+{row['children_cpu_s']:.1f} s "
            f"runner)  {row['items']} items {row['items_per_s']}/s  {row['articles']} articles "
            f"{row['articles_per_s']}/s  peak {row['peak_tree_rss_mb']} MB{ratio}")


if __name__ == "__main__":
    main()
