"""`nkru serve` and `nkru report`: click commands (registered by nkru/cli.py) over the web view and the report."""

from __future__ import annotations

import ipaddress
import logging
from datetime import datetime
from pathlib import Path

import click

from schemas.records import parse_timestamp

log = logging.getLogger(__name__)


def _settings():
    from nkru.settings import ConfigError, load_settings

    try:
        return click.get_current_context().obj or load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _as_of(value: str | None) -> datetime | None:
    try:
        return parse_timestamp(value) if value else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--as-of") from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--from", "from_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="replay output directory to show (events.jsonl, alerts.jsonl) instead of, or with --live "
                   "besides, the Kafka topics")
@click.option("--live/--no-live", default=None,
              help="follow the canonical-event and alert topics [default: on, off with --from]")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="interface to listen on; anything but loopback exposes the page to the network")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--as-of", help="ISO date/time 'new' is measured from [default: now; with --from only, the data's "
                              "latest time]")
def serve(from_dir: Path | None, live: bool | None, host: str, port: int, as_of: str | None) -> None:
    """Serve the analyst's view: live alerts, timeline, map and event pages with claims charts."""
    from nkru.report import default_as_of
    from nkru.web.app import create_app
    from nkru.web.io import ReplayDirError, TopicFollower, load_replay_dir
    from nkru.web.server import run_server
    from nkru.web.store import Store

    settings = _settings()
    follow = live if live is not None else from_dir is None
    when = _as_of(as_of)
    store = Store()
    if from_dir is not None:
        try:
            n_events, n_alerts = load_replay_dir(from_dir, store)
        except ReplayDirError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"loaded {n_events} events and {n_alerts} alerts from {from_dir}", err=True)
        if not follow:
            when = when or default_as_of(store.snapshot())
            store.set_status(f"replay data from {from_dir} (no live feed)")
    follower = TopicFollower(settings.kafka, store) if follow else None
    if follower is not None:
        store.set_status(f"connecting to Kafka at {settings.kafka.bootstrap_servers}…")
    app = create_app(store, as_of=when, live=follow, on_start=follower.start if follower else None,
                     on_stop=follower.stop if follower else None)
    if not _is_loopback(host):
        click.echo(f"warning: listening on {host}, reachable from other machines; the page has no login", err=True)
    click.echo(f"serving on http://{host}:{port}/", err=True)
    run_server(app, host, port)


@click.command()
@click.option("--from", "from_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="replay output directory (events.jsonl, alerts.jsonl)")
@click.option("--out", "out", default="report.html", show_default=True, type=click.Path(dir_okay=False, path_type=Path),
              help="the HTML file to write")
@click.option("--as-of", help="ISO date/time 'new' is measured from [default: the data's latest time]")
@click.option("--title", default="nkru-monitor", show_default=True, help="title of the brief")
def report(from_dir: Path, out: Path, as_of: str | None, title: str) -> None:
    """Write the alerts, timeline, map and event pages as one self-contained HTML file (no network needed)."""
    from nkru.report import write_report
    from nkru.web.io import ReplayDirError

    _settings()  # the same settings checks as every command, though the report reads no topic
    try:
        snap = write_report(from_dir, out, _as_of(as_of), title)
    except ReplayDirError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {out} ({len(snap.events)} events, {len(snap.alerts)} alerts)", err=True)
