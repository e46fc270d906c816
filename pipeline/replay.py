"""`nkru replay`: archived input through the same graph, bounded → DIR/{articles,events,alerts,dead_letters}.jsonl
and DIR/summary.json (every file, item and article accounted for; counts in and out of each stage).

Sources (`pipeline.sources`): directory trees or files of raw feed documents (RSS/Atom/RDF/JSON Feed; fetch
time from a YYYYMMDDTHHMMSSZ stamp in the file name, else the mtime), JSON exports of parsed entries,
JSONL articles and WARC files. Each article id is processed once (its earliest snapshot), optionally only
within an event-time range. Outputs are sorted, so a re-run over the same input gives identical files.
For rehearsals into Kafka see `pipeline.replay_kafka`.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

import apache_beam as beam

from pipeline.graph import GraphConfig, build_graph
from pipeline.io import WriteJsonl
from pipeline.replay_progress import ReplayProgress, counter_totals, follow, run_blocking, show_progress
from pipeline.replay_summary import OUTPUTS, finish_outputs, replay_summary
from pipeline.replay_transforms import CollapseAndFilter, ReadArchive
from pipeline.runners import runner_options
from pipeline.sources import Inventory, SourceError, discover
from pipeline.stages import DEAD

log = logging.getLogger(__name__)

__all__ = ["OUTPUTS", "ReplayError", "ReplayOptions", "run_replay"]


class ReplayError(ValueError):
    """The replay's input or output location is unusable; the message says which and why."""


@dataclass(frozen=True)
class ReplayOptions:
    """How to replay: the event-time range [since, until) and whether to show progress (None: on a terminal)."""

    since: datetime | None = None
    until: datetime | None = None
    progress: bool | None = None
    progress_stream: IO | None = None

    def __post_init__(self):
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ReplayError(f"--{name} must be timezone-aware (naive datetimes are bugs)")
        if self.since and self.until and self.since >= self.until:
            raise ReplayError(f"--since {self.since.isoformat()} is not before --until {self.until.isoformat()}")


def take_inventory(paths: list[Path]) -> Inventory:
    try:
        inventory = discover([Path(p) for p in paths])
    except SourceError as exc:
        raise ReplayError(str(exc)) from None
    if inventory.empty:
        raise ReplayError("no input found in " + ", ".join(str(p) for p in paths))
    return inventory


def read_sources(pipeline: beam.Pipeline, inventory: Inventory, options: ReplayOptions):
    """The archive's articles (each id once, in range) and the sources' dead letters."""
    read = pipeline | "ReadArchive" >> ReadArchive(inventory.units())
    articles = read.articles | "CollapseRepeats" >> CollapseAndFilter(options.since, options.until)
    return articles, [read[DEAD]]


def build_replay_pipeline(pipeline: beam.Pipeline, inventory: Inventory, config: GraphConfig, parts: Path,
                          options: ReplayOptions):
    articles, dead = read_sources(pipeline, inventory, options)
    out = build_graph(articles, config, upstream_dead=dead)
    out.enriched | "WriteArticles" >> WriteJsonl(str(parts / "articles"))
    out.events | "WriteEvents" >> WriteJsonl(str(parts / "events"))
    out.alerts | "WriteAlerts" >> WriteJsonl(str(parts / "alerts"))
    out.dead_letters | "WriteDeadLetters" >> WriteJsonl(str(parts / "dead_letters"))
    return out


def execute(pipeline: beam.Pipeline, inventory: Inventory, options: ReplayOptions,
            desc: str = "replay") -> tuple[dict[str, int], ReplayProgress]:
    """Run the job to its end with a progress bar; return its final counters and the (still open) bar."""
    enabled = show_progress(options.progress, options.progress_stream)
    progress = ReplayProgress(inventory.total_bytes, len(inventory.files), enabled, options.progress_stream, desc)
    try:
        if runs_blocking(pipeline):
            result = run_blocking(pipeline, progress.update, enabled)
        else:
            result = pipeline.run()
            follow(result, progress.update, enabled)
    except KeyboardInterrupt:
        from pipeline.runners import stop_direct_workers

        stop_direct_workers()  # the direct runner's, if any: they do not get the terminal's Ctrl-C
        progress.bar.close()
        raise ReplayError("interrupted; the output directory holds no complete replay") from None
    except Exception as exc:
        progress.bar.close()
        raise ReplayError(f"the replay job failed: {exc}") from exc
    return final_counters(result), progress


def runs_blocking(pipeline: beam.Pipeline) -> bool:
    """Whether the pipeline's runner returns from `run()` only when the job is done (Beam's DirectRunner)."""
    from apache_beam.options.pipeline_options import StandardOptions

    return str(pipeline.options.view_as(StandardOptions).runner or "").endswith("DirectRunner")


# The SDK's gRPC calls to the job service time out after --job_server_timeout (60 s), the state stream that
# `wait_until_finish` reads included (apache/beam#35867): a replay longer than that would fail. A week.
JOB_SERVER_TIMEOUT = 7 * 24 * 3600


def replay_runner_options(runner: str, runner_args: list[str] | None):
    args = list(runner_args or [])
    if not any(a.startswith(("--job_server_timeout", "--job-server-timeout")) for a in args):
        args.insert(0, f"--job_server_timeout={JOB_SERVER_TIMEOUT}")
    return runner_options(runner, streaming=False, extra=args)


def final_counters(result) -> dict[str, int]:
    from apache_beam.metrics.metric import MetricsFilter

    try:
        counters = result.metrics().query(MetricsFilter())["counters"]
    except Exception:  # noqa: BLE001 - a runner without metrics still gets a summary from the files
        log.warning("the runner returned no metrics; summary.json counts come from the output files only")
        return {}
    return counter_totals(counters, prefer_committed=True)


def finish_line(summary: dict, elapsed: float) -> str:
    items = summary["accounting"]["items"]
    return (f"replayed {summary['documents']} files, {items} items → {summary['accounting']['into_graph']} "
            f"articles, {summary['outputs']['events']} events, {summary['outputs']['alerts']} alerts, "
            f"{summary['outputs']['dead_letters']} dead letters in {elapsed:.1f} s "
            f"({items / max(elapsed, 1e-9):,.0f} items/s)")


def run_replay(paths: list[Path], out_dir: Path, config: GraphConfig | None = None, runner: str = "direct",
               runner_args: list[str] | None = None, options: ReplayOptions | None = None) -> dict:
    """Replay `paths` through the graph into `out_dir`; return the summary written to summary.json."""
    config = config or GraphConfig()
    options = options or ReplayOptions()
    inventory = take_inventory(paths)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = out_dir / ".parts"
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir()
    pipeline = beam.Pipeline(options=replay_runner_options(runner, runner_args))
    build_replay_pipeline(pipeline, inventory, config, parts, options)
    counters, progress = execute(pipeline, inventory, options)
    counts, stats = finish_outputs(parts, out_dir)
    summary = replay_summary(inventory, counters, counts, stats, options.since, options.until)
    summary["runner"] = runner
    summary["layout"] = config.layout
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(parts, ignore_errors=True)
    line = finish_line(summary, progress.elapsed)
    progress.finish(counters, line)
    log.info("%s", line)
    if not summary["accounting"]["balanced"]:
        log.error("replay accounting does not balance: %s", summary["accounting"])
    if summary["dedup"]["band_reports_missing"]:
        log.error("%d LSH band reports were lost between the dedup stages: some near-duplicates may be unmarked",
                  summary["dedup"]["band_reports_missing"])
    if summary["accounting"]["missing_in_graph"]:
        log.error("%d articles went into the graph but came out neither enriched, as exact duplicates nor as "
                  "extraction dead letters", summary["accounting"]["missing_in_graph"])
    return summary

