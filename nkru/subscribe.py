"""`nkru alerts`: follow the alert topic with filters, as readable lines or JSON lines."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import datetime

import click

from schemas.records import Alert, parse_timestamp
from schemas.topics import ALERTS, topic

SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}
COLOURS = {"low": "cyan", "medium": "yellow", "high": "red"}


@dataclass(frozen=True)
class AlertFilter:
    min_severity: str | None = None
    types: frozenset[str] = frozenset()
    actors: frozenset[str] = frozenset()
    since: datetime | None = None

    @classmethod
    def build(cls, severity=None, types=(), actors=(), since=None) -> "AlertFilter":
        try:
            since_dt = parse_timestamp(since) if since else None
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--since") from None
        return cls(severity, frozenset(types), frozenset(a.upper() for a in actors), since_dt)

    def accepts(self, alert: Alert) -> bool:
        if self.min_severity and SEVERITY_RANK[alert.severity] < SEVERITY_RANK[self.min_severity]:
            return False
        if self.types and alert.event_type not in self.types:
            return False
        if self.actors and not self.actors.intersection(alert.actors):
            return False
        if self.since and (alert.event_time is None or alert.event_time < self.since):
            return False
        return True


def format_alert(alert: Alert, colour: bool) -> str:
    when = alert.event_time.strftime("%Y-%m-%d %H:%M") if alert.event_time else "date unknown"
    head = f"[{alert.severity.upper():6}] {alert.kind:12} {alert.event_type:28}"
    line = f"{head} {when}  {alert.summary}"
    if alert.links:
        line += f"  <{alert.links[0]}>"
    return click.style(line, fg=COLOURS[alert.severity]) if colour else line


def follow_alerts(settings, filt: AlertFilter, from_beginning: bool = False, group: str | None = None,
                  as_json: bool = False, max_alerts: int | None = None, idle_timeout: float | None = None,
                  out=None, stop=None, webhook=None) -> int:
    """Print alerts as they arrive; return how many were printed.

    Stops at `max_alerts`, after `idle_timeout` seconds without an alert, or when the `stop` event is set.
    """
    from connectors.kafka_io import KafkaUnavailable, make_consumer

    out = out or sys.stdout
    colour = not as_json and out.isatty()
    name = topic(ALERTS, settings.kafka.topic_prefix).name
    try:
        consumer = make_consumer(settings.kafka, name, group_id=group,
                                 auto_offset_reset="earliest" if from_beginning else "latest")
    except KafkaUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    printed = 0
    last = time.monotonic()
    try:
        while stop is None or not stop.is_set():
            batch = consumer.poll(timeout_ms=500)
            for records in batch.values():
                for rec in records:
                    try:
                        alert = Alert.model_validate_json(rec.value)
                    except ValueError:
                        click.echo(f"nkru alerts: skipping an unreadable record at offset {rec.offset}", err=True)
                        continue
                    if not filt.accepts(alert):
                        continue
                    if webhook is not None:
                        webhook.deliver(alert)
                    out.write((alert.model_dump_json() if as_json else format_alert(alert, colour)) + "\n")
                    out.flush()
                    printed += 1
                    last = time.monotonic()
                    if max_alerts is not None and printed >= max_alerts:
                        return printed
            if idle_timeout is not None and time.monotonic() - last > idle_timeout:
                return printed
        return printed
    except KeyboardInterrupt:
        return printed
    finally:
        consumer.close()
