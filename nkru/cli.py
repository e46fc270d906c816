"""The `nkru` command line: one group, a subcommand per task; settings are built once here and passed down."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from nkru.logs import setup_logging
from pipeline.replay_cli import replay_options
from nkru.settings import ConfigError, load_settings


class NkruError(click.ClickException):
    """An error the user can act on: printed as one line, exit code 1."""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), envvar="NKRU_CONFIG",
              help="Settings file (YAML). Environment variables NKRU_* override it; see docs/operations.md.")
@click.option("--bootstrap", help="Kafka bootstrap servers (host:port), overriding the settings.")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.version_option(package_name="nkru-monitor")
@click.pass_context
def main(ctx: click.Context, config_file: Path | None, bootstrap: str | None, log_level: str | None) -> None:
    """nkru-monitor: news monitoring of the DPRK–Russia military partnership.

    Feeds → Kafka → a Beam pipeline (relevance, event extraction, deduplication, merging) → alerts.

    \b
    Quick start (a local broker, the bundled sample, alerts printed as they arrive):
      nkru run --sample
    """
    try:
        ctx.obj = load_settings(config_file, kafka__bootstrap_servers=bootstrap,
                                log_level=log_level.upper() if log_level else None)
    except ConfigError as exc:
        raise NkruError(str(exc)) from None
    setup_logging(ctx.obj.log_level, ctx.obj.log_format)


# ------------------------------------------------------------------ setup

@main.command()
@click.option("--flink", is_flag=True, help="also assemble the Flink job server's class path (Maven Central)")
def setup(flink: bool) -> None:
    """Fetch the Kafka broker's jars (Maven Central) and build the Prism runner (Go module proxy), once.

    Both are cached outside the clone ($NKRU_CACHE, default ~/.cache/nkru); a second run returns at once.
    """
    from connectors.kafka_broker import BrokerError, install
    from pipeline import flink as flink_runner
    from pipeline.runners import RunnerError, build_prism

    try:
        click.echo(f"kafka jars:   {install()}")
        click.echo(f"prism runner: {build_prism()}")
        if flink:
            click.echo(f"flink job server: {flink_runner.install()}")
    except (BrokerError, RunnerError, flink_runner.FlinkError) as exc:
        raise NkruError(str(exc)) from None


@main.group()
def config() -> None:
    """The effective settings (file + NKRU_* environment + flags)."""


@config.command("show")
@click.pass_obj
def config_show(settings) -> None:
    """Print the effective settings as YAML (secrets masked)."""
    import yaml

    data = json.loads(settings.model_dump_json())  # SecretStr dumps as '**********'
    click.echo(yaml.safe_dump(data, sort_keys=False).rstrip())


@config.command("list")
def config_list() -> None:
    """List every setting: its name, environment variable, default and meaning."""
    from nkru.settings import describe, env_name

    for name, default, description in describe():
        click.echo(f"{name:28} {env_name(name):34} default={default or '-':16} {description}")


@main.command()
@click.option("--url", help="health endpoint [default: http://<observability.host>:<observability.port>/healthz]")
@click.option("--timeout", type=float, default=3.0, show_default=True)
@click.pass_obj
def health(settings, url, timeout) -> None:
    """Ask a running `nkru process`/`nkru run` whether it is healthy; exit 0 if so, 1 otherwise."""
    import urllib.error
    import urllib.request

    host = settings.observability.host
    url = url or f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{settings.observability.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read().decode()
            ok = response.status == 200
    except urllib.error.HTTPError as exc:
        body, ok = exc.read().decode(errors="replace"), False
    except (urllib.error.URLError, OSError) as exc:
        raise NkruError(f"no answer from {url}: {exc}") from None
    click.echo(body)
    sys.exit(0 if ok else 1)


# ------------------------------------------------------------------ kafka

@main.group()
def kafka() -> None:
    """Run the local Apache Kafka broker (KRaft, one node, 127.0.0.1)."""


def _broker_options(f):
    f = click.option("--port", type=int, default=9092, show_default=True, help="client port")(f)
    f = click.option("--controller-port", type=int, default=9093, show_default=True, help="KRaft controller port")(f)
    f = click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
                     help="broker data directory [default: <state dir>/kafka]")(f)
    return f


def _broker_config(ctx_obj, data_dir, port, controller_port):
    from connectors.kafka_broker import BrokerConfig

    return BrokerConfig(data_dir=(data_dir or ctx_obj.state_dir / "kafka").resolve(), port=port,
                        controller_port=controller_port)


@kafka.command("start")
@_broker_options
@click.option("--timeout", type=float, default=90, show_default=True, help="seconds to wait for the broker")
@click.option("--create-topics/--no-create-topics", default=True, show_default=True,
              help="create nkru's topics once the broker answers")
@click.pass_obj
def kafka_start(settings, data_dir, port, controller_port, timeout, create_topics) -> None:
    """Start the broker in the background; returns once it answers."""
    from connectors.kafka_broker import BrokerError, start
    from connectors.kafka_io import ensure_topics

    cfg = _broker_config(settings, data_dir, port, controller_port)
    try:
        pid = start(cfg, timeout=timeout)
    except BrokerError as exc:
        raise NkruError(str(exc)) from None
    if create_topics:
        ensure_topics(settings.kafka.model_copy(update={"bootstrap_servers": cfg.bootstrap}))
    click.echo(f"kafka running: pid {pid}, {cfg.bootstrap}, data {cfg.data_dir}")


@kafka.command("stop")
@_broker_options
@click.pass_obj
def kafka_stop(settings, data_dir, port, controller_port) -> None:
    """Stop the broker started from this data directory (by its pid)."""
    from connectors.kafka_broker import stop

    cfg = _broker_config(settings, data_dir, port, controller_port)
    click.echo("kafka stopped" if stop(cfg) else f"no broker running for {cfg.data_dir}")


@kafka.command("status")
@_broker_options
@click.pass_obj
def kafka_status(settings, data_dir, port, controller_port) -> None:
    """Say whether the broker runs and answers; exit 1 when it does not."""
    from connectors.kafka_broker import answers, read_pid

    cfg = _broker_config(settings, data_dir, port, controller_port)
    pid = read_pid(cfg)
    ok = answers(cfg)
    click.echo(f"pid: {pid or '-'}  answers on {cfg.bootstrap}: {'yes' if ok else 'no'}  data: {cfg.data_dir}")
    sys.exit(0 if ok else 1)


# ------------------------------------------------------------------ schemas

@main.group()
def schemas() -> None:
    """The typed topics: their pydantic models as JSON Schema."""


@schemas.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def schemas_export(directory: Path) -> None:
    """Write one JSON Schema per topic (and index.json) into DIRECTORY."""
    from schemas.topics import export_json_schemas

    for path in export_json_schemas(directory):
        click.echo(str(path))


@schemas.command("list")
def schemas_list() -> None:
    """List the topics: name, key, model, retention."""
    from schemas.topics import TOPICS

    for t in TOPICS.values():
        retention = "compacted" if t.compacted else f"{t.retention_ms // 86_400_000}d"
        click.echo(f"{t.name:28} key={t.key:12} model={t.model.__name__:16} retention={retention}")


# ------------------------------------------------------------------ offline work

@main.command()
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSONL of articles: id, url, title, text, published, language, outlet (others ignored)")
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="JSONL: one line per input line with id, relevant, relevance_score, events")
@click.option("--ontology", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="ontology YAML [default: the bundled one]")
def extract(input_path: Path, output_path: Path, ontology: Path | None) -> None:
    """Run the extractor over a JSONL file in a plain loop (no Beam, no Kafka)."""
    from nkru.offline import extract_file

    try:
        done, bad = extract_file(input_path, output_path, ontology)
    except ValueError as exc:
        raise NkruError(str(exc)) from None
    click.echo(f"{done} articles extracted to {output_path}" + (f"; {bad} lines unreadable (see above)" if bad else ""),
               err=True)
    if bad:
        sys.exit(1)


@main.command("eval")
@click.option("--gold", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="labelled JSONL (fields as in shared/gold/README.md)")
@click.option("--ontology", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
def eval_cmd(gold: Path, ontology: Path | None, as_json: bool) -> None:
    """Score the extractor against labelled articles: relevance, event types, per-event fields."""
    from pipeline.extraction import load_ontology
    from pipeline.extraction.evaluate import evaluate, format_report

    rows = [json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    report = evaluate(rows, load_ontology(ontology))
    click.echo(json.dumps(report, indent=2, sort_keys=True) if as_json else format_report(report))


BEAM_ARGS = {"ignore_unknown_options": True, "allow_extra_args": True}


@main.command(context_settings=BEAM_ARGS)
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="output directory: articles, events, alerts, dead_letters (.jsonl) and summary.json "
                   "(with --to-kafka: summary.json only, optional)")
@click.option("--runner", help="Beam runner: direct (the SDK's own, one worker process per core), prism, flink, or a "
                              "Beam runner name  [default: direct; prism with --to-kafka]")
@click.option("--ontology", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rules", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="alert rules YAML")
@replay_options
@click.pass_context
def replay(ctx, sources, out_dir, runner, ontology, rules, **options) -> None:
    """Replay archived input through the same graph, bounded (or, with --to-kafka, into replay topics).

    SOURCES are files or directory trees of raw feed documents (RSS/Atom/RDF/JSON Feed; fetch time from a
    YYYYMMDDTHHMMSSZ stamp in the file name, else the mtime), JSON exports of parsed entries, JSONL articles
    and WARC files. Each article id is processed once (its earliest snapshot).
    Any other --option=value is passed to Beam as a pipeline option, e.g. --flink_master=[local].
    """
    from pipeline.replay import ReplayError
    from pipeline.replay_cli import replay_from_cli

    beam_args = [*ctx.args, *(str(s) for s in sources if str(s).startswith("--"))]
    sources = tuple(s for s in sources if not str(s).startswith("--"))
    missing = [str(s) for s in sources if not s.exists()]
    if missing:
        raise click.BadParameter(f"no such file or directory: {', '.join(missing)}", param_hint="SOURCES")
    try:
        _, line = replay_from_cli(ctx.obj, sources, out_dir, runner, ontology, rules, beam_args, **options)
    except ReplayError as exc:
        raise NkruError(str(exc)) from None
    click.echo(line)


# ------------------------------------------------------------------ long-running roles

@main.command(context_settings=BEAM_ARGS)
@click.option("--runner", help="Beam runner [default: settings process.runner = prism]")
@click.option("--from", "start_at", type=click.Choice(["committed", "earliest", "latest"]),
              help="where the source starts when the group has no committed offset [default: committed]")
@click.pass_context
def process(ctx, runner, start_at) -> None:
    """Run the streaming job: raw-article topic → enriched, event and alert topics. Ctrl-C stops it.

    Any other --option is passed to Beam as a pipeline option (e.g. --flink_master=host:8081).
    """
    settings, beam_args = ctx.obj, ctx.args
    from nkru.jobs import run_process

    if runner or start_at:
        from pydantic import ValidationError

        from nkru.settings import ProcessSettings

        try:  # validated like the settings file (model_copy would not)
            chosen = ProcessSettings.model_validate(settings.process.model_dump() | {
                k: v for k, v in {"runner": runner, "start_at": start_at}.items() if v})
        except ValidationError as exc:
            raise click.BadParameter(exc.errors()[0]["msg"].removeprefix("Value error, "),
                                     param_hint="--runner") from None
        settings = settings.model_copy(update={"process": chosen})
    run_process(settings, list(beam_args))


@main.command()
@click.option("--sample/--no-sample", default=True, show_default=True,
              help="serve and poll the bundled sample feeds (no network needed)")
@click.option("--feeds", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="feed registry YAML to poll instead of the sample")
@click.option("--local-kafka/--no-local-kafka", default=True, show_default=True,
              help="start the local broker when nothing answers at the bootstrap servers")
@click.option("--json", "as_json", is_flag=True, help="print alerts as JSON lines")
@click.pass_obj
def run(settings, sample, feeds, local_kafka, as_json) -> None:
    """Run everything: local Kafka, feed connectors and the streaming job; alerts printed as they arrive."""
    from nkru.jobs import run_all

    run_all(settings, sample=sample and feeds is None, feeds=feeds, local_kafka=local_kafka, as_json=as_json)


@main.command()
@click.option("--from-beginning", is_flag=True, help="start at the oldest alert instead of now")
@click.option("--group", help="consume as this consumer group (remembers where it stopped)")
@click.option("--severity", type=click.Choice(["low", "medium", "high"]), help="minimum severity")
@click.option("--type", "event_type", multiple=True, help="only these event types (repeatable)")
@click.option("--actor", multiple=True, help="only alerts naming this actor code, e.g. PRK (repeatable)")
@click.option("--since", help="only alerts whose event time is at or after this ISO date/time")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of readable lines")
@click.option("--max", "max_alerts", type=int, help="exit after this many alerts")
@click.option("--timeout", type=float, help="exit after this many seconds without a new alert")
@click.option("--webhook", help="also POST each alert as JSON to this URL (retries; failures → dead letters)")
@click.pass_obj
def alerts(settings, from_beginning, group, severity, event_type, actor, since, as_json, max_alerts, timeout,
           webhook) -> None:
    """Follow the alert topic and print alerts as they arrive."""
    from nkru.subscribe import AlertFilter, follow_alerts
    from nkru.webhook import WebhookSink, kafka_dead_letter_writer

    filt = AlertFilter.build(severity=severity, types=event_type, actors=actor, since=since)
    sink = None
    if webhook:
        try:
            sink = WebhookSink(webhook, dead_letter=kafka_dead_letter_writer(settings.kafka))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--webhook") from None
    follow_alerts(settings, filt, from_beginning=from_beginning, group=group, as_json=as_json,
                  max_alerts=max_alerts, idle_timeout=timeout, webhook=sink)


def _register_commands() -> None:
    from connectors.feeds.cli import feeds, ingest
    from nkru.web.cli import report, serve

    for command in (feeds, ingest, serve, report):
        main.add_command(command)


_register_commands()
