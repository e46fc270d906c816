"""Benchmark: where the streaming job's latency goes, stage by stage (`bench_streaming.py` with probes).

Runs `bench/bench_streaming.py` (same arguments) with a probe after each deduplication fold and after the
graph's outputs; each probe records, per element, the wall-clock time minus the element's event time (the
raw record's broker timestamp, or the tick a fold stamped on its output, at most one tick later). Printed:
p50/p95 per probe over the latency phase (elements of its last `--window` seconds of event time).

    .venv/bin/python bench/bench_stage_latency.py [--n 1000] [--m 100] [--rate 40] [--window 2.5]

The probes are extra DoFns in the measured graph: they add a little work, not a stage boundary of their
own (Prism fuses them with the stage they follow).
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import apache_beam as beam

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline import graph, merge_order, streaming


class Probe(beam.DoFn):
    """Appends 'probe wall_ms event_ms' per element to a file (one process: LOOPBACK)."""

    def __init__(self, name: str, path: str):
        self.name, self.path = name, path

    def process(self, element, ts=beam.DoFn.TimestampParam):
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(f"{self.name} {time.time() * 1000:.0f} {ts.micros // 1000}\n")


def install(path: str) -> None:
    """Attach probes: around every `OrderedFold` (the dedup folds) and after the graph's outputs."""
    fold_expand = merge_order.OrderedFold.expand

    def expand(self, keyed):
        keyed | "ProbeIn" >> beam.ParDo(Probe(f"{self.label}.in", path))
        out = fold_expand(self, keyed)
        out | "ProbeOut" >> beam.ParDo(Probe(f"{self.label}.out", path))
        return out

    build = graph.build_graph

    def build_graph(articles, config, upstream_dead=None):
        out = build(articles, config, upstream_dead)
        articles | "ProbeRaw" >> beam.ParDo(Probe("0.decoded", path))
        out.enriched | "ProbeEnriched" >> beam.ParDo(Probe("enriched", path))
        out.mentions | "ProbeMentions" >> beam.ParDo(Probe("mentions", path))
        out.events | "ProbeEvents" >> beam.ParDo(Probe("events", path))
        out.alerts | "ProbeAlerts" >> beam.ParDo(Probe("alerts", path))
        return out

    merge_order.OrderedFold.expand = expand
    graph.build_graph = build_graph
    streaming.build_graph = build_graph


def summarise(path: Path, window_ms: float) -> dict:
    rows = [line.split() for line in path.read_text(encoding="utf-8").splitlines()]
    last = max(int(event) for name, _, event in rows if name == "0.decoded")
    lags: dict[str, list[int]] = defaultdict(list)
    for name, wall, event in rows:
        if int(event) > last - window_ms:
            lags[name].append(int(wall) - int(event))
    stages = {}
    for name, values in lags.items():
        values.sort()
        stages[name] = {"n": len(values), "p50_ms": values[len(values) // 2],
                        "p95_ms": values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]}
    return dict(sorted(stages.items(), key=lambda item: (item[1]["p50_ms"], item[0])))  # in order of arrival


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=float, default=2.5, help="seconds of event time at the end to score")
    args, rest = parser.parse_known_args()
    path = Path(tempfile.mkdtemp(prefix="nkru-stage-latency-")) / "probes.txt"
    install(str(path))
    sys.argv = ["bench_streaming.py", "--json", *rest]
    runpy.run_path(str(Path(__file__).resolve().parent / "bench_streaming.py"), run_name="__main__")
    print(json.dumps({"stages": summarise(path, args.window * 1000)}, indent=2))


if __name__ == "__main__":
    main()
