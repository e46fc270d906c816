"""The options of `nkru replay` beyond sources and --out, and the call the CLI makes with them.

`replay_options` decorates the click command; `replay_from_cli` checks the combination (a directory, or
--to-kafka with a replay prefix), runs the replay and returns the summary and the line to print.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from schemas.records import parse_timestamp


def _time(ctx, param, value):
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def replay_options(f):
    """--since, --until, --to-kafka, --prefix, --speed, --max-gap, --progress/--no-progress, --layout."""
    options = [
        click.option("--since", callback=_time, metavar="TIME",
                     help="only articles whose event time (published) is at or after this ISO date/time (UTC "
                          "unless it has an offset)"),
        click.option("--until", callback=_time, metavar="TIME",
                     help="only articles whose event time is before this ISO date/time"),
        click.option("--to-kafka", is_flag=True,
                     help="publish RawArticle records to the raw topic of --prefix (a rehearsal for `nkru "
                          "process` run with that prefix) instead of running the graph into --out"),
        click.option("--prefix", default="replay.", show_default=True,
                     help="topic prefix of --to-kafka; never empty, never the live prefix"),
        click.option("--speed", default="max", show_default=True, metavar="N|max",
                     help="--to-kafka pace: N times real time by event time, or max (as fast as possible)"),
        click.option("--max-gap", type=float, metavar="SECONDS",
                     help="--to-kafka: wait at most this long between two records (skips quiet periods)"),
        click.option("--progress/--no-progress", default=None,
                     help="progress bar with rate and ETA on stderr [default: when stderr is a terminal]"),
        click.option("--layout", type=click.Choice(["auto", "sharded", "single"]), default="auto", show_default=True,
                     help="how the stateful folds are keyed (as process.layout): single runs dedup on one key and "
                          "merge and alerts on another, sharded spreads them over shard keys; auto: single on the "
                          "direct runner and Prism, sharded elsewhere. The outputs are the same"),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def replay_from_cli(settings, sources: tuple[Path, ...], out_dir: Path | None, runner: str | None, ontology: Path | None,
                    rules: Path | None, beam_args: list[str], *, since=None, until=None, to_kafka: bool = False,
                    prefix: str = "replay.", speed: str = "max", max_gap: float | None = None,
                    progress: bool | None = None, layout: str = "auto") -> tuple[dict, str]:
    """Run the replay the options ask for; return (summary, the JSON line the CLI prints).

    Raises `pipeline.replay.ReplayError` (a message for the user) when the options or inputs are unusable.
    """
    from nkru.settings import layout_for
    from pipeline.graph import GraphConfig
    from pipeline.replay import ReplayError, ReplayOptions, run_replay

    options = ReplayOptions(since=since, until=until, progress=progress)
    runner = runner or ("prism" if to_kafka else "direct")
    if to_kafka:
        from pipeline.replay_kafka import KafkaTarget, parse_speed, run_replay_to_kafka

        target = KafkaTarget(prefix=prefix, speed=parse_speed(speed), max_gap=max_gap)
        summary = run_replay_to_kafka(list(sources), settings.kafka, target, runner, beam_args, options, out_dir)
        line = {"documents": summary["documents"]} | {k: summary["kafka"][k] for k in ("topic", "articles",
                                                                                      "dead_letters")}
        return summary, json.dumps(line, sort_keys=True)
    if out_dir is None:
        raise ReplayError("--out DIR is required (or --to-kafka to publish into replay topics)")
    if speed not in (None, "max") or max_gap is not None:
        raise ReplayError("--speed and --max-gap pace a --to-kafka replay; a replay into --out runs as fast as it can")
    config = GraphConfig(ontology, rules, layout=layout_for(layout, runner))
    summary = run_replay(list(sources), out_dir, config, runner, beam_args, options)
    return summary, json.dumps(summary["outputs"] | {"documents": summary["documents"]}, sort_keys=True)
