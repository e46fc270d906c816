"""Command line of the feed connectors: `feeds import|export|status` and `ingest` (the poller).

Each command takes the `nkru.settings.Settings` from the click context object (built when absent).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from connectors.feeds.opml import export_opml, import_opml
from connectors.feeds.registry import DEFAULT_REGISTRY, Registry, RegistryError, dump_registry, load_registry
from connectors.feeds.state import StateStore

log = logging.getLogger(__name__)


def _settings() -> Any:
    ctx = click.get_current_context()
    root = ctx.find_root()
    obj = ctx.obj if ctx.obj is not None else root.obj
    if obj is None:
        from nkru.settings import load_settings

        obj = load_settings()
        root.obj = obj
    return obj


def registry_path(settings: Any, explicit: Path | None = None) -> Path:
    """--feeds, else the settings' `feeds`, else STATE_DIR/feeds.yaml if it exists, else the bundled registry."""
    if explicit is not None:
        return explicit
    if getattr(settings, "feeds", None):
        return Path(settings.feeds)
    local = Path(settings.state_dir) / "feeds.yaml"
    return local if local.exists() else DEFAULT_REGISTRY


def _load(path: Path) -> Registry:
    try:
        return load_registry(path)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("feeds")
def feeds() -> None:
    """Manage the feed registry and see how the feeds fare."""


@feeds.command("import")
@click.argument("opml_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--into", "target", type=click.Path(dir_okay=False, path_type=Path),
              help="registry to add to (default: settings `feeds`, else STATE_DIR/feeds.yaml)")
@click.option("--language", help="language of the imported feeds when the OPML does not say")
def import_cmd(opml_file: Path, target: Path | None, language: str | None) -> None:
    """Add the feeds of an OPML file to the registry (feeds whose URL is already there are left alone)."""
    settings = _settings()
    if target is None:
        target = Path(settings.feeds) if getattr(settings, "feeds", None) else Path(settings.state_dir) / "feeds.yaml"
    base = _load(target) if target.exists() else _load(DEFAULT_REGISTRY)
    try:
        merged, added, skipped = import_opml(opml_file.read_bytes(), base, language=language)
    except ValueError as exc:
        raise click.ClickException(f"{opml_file}: {exc}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(dump_registry(merged), encoding="utf-8")
    click.echo(f"{len(added)} feeds added to {target}, {len(skipped)} already present")
    for feed in added:
        click.echo(f"  + {feed.id}  {feed.url}")


@feeds.command("export")
@click.option("--feeds", "feeds_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="registry to export (default: the one `ingest` polls)")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="write here instead of stdout")
def export_cmd(feeds_file: Path | None, out: Path | None) -> None:
    """Write the registry as OPML 2.0."""
    registry = _load(registry_path(_settings(), feeds_file))
    text = export_opml(registry)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"{len(registry.feeds)} feeds written to {out}")


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@feeds.command("status")
@click.option("--feeds", "feeds_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="one JSON object per feed")
def status_cmd(feeds_file: Path | None, as_json: bool) -> None:
    """Per feed: last success, items last poll, error streak, next poll, last error."""
    settings = _settings()
    registry = _load(registry_path(settings, feeds_file))
    store = StateStore.in_state_dir(Path(settings.state_dir))
    try:
        states = store.all()
    finally:
        store.close()
    if not as_json:
        click.echo(f"{'feed':28} {'last success':21} {'items':>5} {'new':>4} {'errors':>6} {'next poll':21} last error")
    for feed in registry.feeds:
        st = states.get(feed.id)
        row = {"feed": feed.id, "enabled": feed.enabled, "url": (st.url if st and st.url else feed.url),
               "last_success": _when(st.last_success if st else None),
               "items_last_poll": st.items_last_poll if st else 0, "new_last_poll": st.new_last_poll if st else 0,
               "error_streak": st.error_streak if st else 0, "next_poll": _when(st.next_poll if st else None),
               "last_status": st.last_status if st else None, "last_error": (st.last_error or "") if st else "",
               "gone": st.gone if st else False}
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            click.echo(f"{feed.id[:28]:28} {row['last_success']:21} {row['items_last_poll']:>5} "
                       f"{row['new_last_poll']:>4} {row['error_streak']:>6} {row['next_poll']:21} "
                       f"{row['last_error'][:60]}")


def _publisher(settings: Any, out: Path | None) -> Any:
    if out is not None:
        from connectors.feeds.sinks import JsonlPublisher

        return JsonlPublisher(out)
    from connectors.kafka_io import KafkaAuthError, ensure_topics
    from connectors.publisher import KafkaPublisher
    from schemas.topics import DEAD_LETTERS, RAW

    try:
        ensure_topics(settings.kafka, [RAW, DEAD_LETTERS])
    except KafkaAuthError:
        pass  # the publisher logs the refusal as an error and spools until the settings are fixed
    except Exception as exc:  # noqa: BLE001 - the spool takes over while Kafka is away
        log.warning("could not check Kafka topics (%s); records will be spooled until Kafka answers", exc)
    return KafkaPublisher.from_settings(settings)


def _serve_health(settings, port: int | None, poller, publisher):
    """/healthz (the poll loop turns; the Kafka publisher's login is accepted) and /metrics, as `nkru process`
    serves them (`nkru health`, the image's HEALTHCHECK, asks it); None when the settings disable it."""
    from nkru.observability import serve_role_health

    checks = {"poll_loop": poller.alive}
    if hasattr(publisher, "health"):
        checks["kafka_publisher"] = publisher.health
    return serve_role_health(settings.observability, checks, port, "set observability.port or --metrics-port")


@click.command("ingest")
@click.option("--feeds", "feeds_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="feed registry YAML (default: settings `feeds`, STATE_DIR/feeds.yaml, or the bundled one)")
@click.option("--once", is_flag=True, help="one poll round of the due feeds, then exit")
@click.option("--all", "force", is_flag=True, help="with --once: poll every enabled feed, due or not")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="write articles and dead letters as JSON lines here instead of Kafka")
@click.option("--workers", type=click.IntRange(1, 512), default=32, show_default=True, help="concurrent fetches")
@click.option("--metrics-port", type=click.IntRange(0, 65535),
              help="port of the /healthz and /metrics endpoint [default: settings observability.port, 9464]")
@click.option("--contact", help="contact (URL or e-mail) added to the User-Agent")
def ingest(feeds_file: Path | None, once: bool, force: bool, out: Path | None, workers: int,
           metrics_port: int | None, contact: str | None) -> None:
    """Poll the registry's feeds and publish new articles (Kafka, or JSON lines with --out)."""
    from dataclasses import replace

    from connectors.feeds.http import DEFAULT_USER_AGENT, HttpPolicy
    from connectors.feeds.poller import Poller, PollerOptions

    settings = _settings()
    path = registry_path(settings, feeds_file)
    registry = _load(path)
    agent = DEFAULT_USER_AGENT[:-1] + f"; contact {contact})" if contact else DEFAULT_USER_AGENT
    options = replace(PollerOptions(max_workers=workers), http=replace(HttpPolicy(), user_agent=agent))
    publisher = _publisher(settings, out)
    poller = Poller(registry, settings, publisher, options=options)
    click.echo(f"polling {len(registry.enabled)} feeds from {path}", err=True)
    server = None if once else _serve_health(settings, metrics_port, poller, publisher)
    try:
        if once:
            report = poller.run_once(force=force)
            click.echo(json.dumps({"feeds": report.polled, "articles": report.articles,
                                   "dead_letters": report.dead_letters, "unkept": report.unkept,
                                   "outcomes": report.outcomes, "seconds": round(report.seconds, 2)}))
        else:
            stop = threading.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            poller.run_forever(stop)
    finally:
        if server is not None:
            server.shutdown()
        publisher.close()
        poller.close()
    if once and report.unkept:
        sys.exit(1)
