"""In-memory state of the web view: canonical events (latest revision per event_id), alerts (once per
alert_id), a numbered log of changes for live clients, the feed status and counts of unreadable input.

Thread-safe: a Kafka follower thread writes while the web server's event loop reads.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from schemas.records import Alert, CanonicalEvent

UpdateKind = Literal["alert", "event", "status"]


@dataclass(frozen=True)
class Update:
    seq: int
    kind: UpdateKind
    key: str  # alert_id, event_id, or the status text


@dataclass(frozen=True)
class Snapshot:
    events: dict[str, CanonicalEvent]
    alerts: list[Alert]
    seq: int
    status: str
    unreadable: dict[str, int]


class Store:
    def __init__(self, log_size: int = 5000) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, CanonicalEvent] = {}
        self._alerts: dict[str, Alert] = {}
        self._log: deque[Update] = deque(maxlen=log_size)
        self._seq = 0
        self._status = ""
        self._unreadable: Counter[str] = Counter()
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> None:
        """`listener()` is called (from the writer's thread) after every change."""
        with self._lock:
            self._listeners.append(listener)

    def _record(self, kind: UpdateKind, key: str) -> None:
        self._seq += 1
        self._log.append(Update(self._seq, kind, key))

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    def add_event(self, event: CanonicalEvent) -> bool:
        """Keep `event` unless a revision at least as new is already held; True when it changed the view."""
        with self._lock:
            held = self._events.get(event.event_id)
            if held is not None and held.revision >= event.revision:
                return False
            self._events[event.event_id] = event
            self._record("event", event.event_id)
        self._notify()
        return True

    def add_alert(self, alert: Alert) -> bool:
        """Keep `alert` unless its alert_id was seen (the alert topic may redeliver); True when new."""
        with self._lock:
            if alert.alert_id in self._alerts:
                return False
            self._alerts[alert.alert_id] = alert
            self._record("alert", alert.alert_id)
        self._notify()
        return True

    def set_status(self, text: str) -> None:
        with self._lock:
            if text == self._status:
                return
            self._status = text
            self._record("status", text)
        self._notify()

    def count_unreadable(self, source: str) -> None:
        with self._lock:
            self._unreadable[source] += 1

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(dict(self._events), list(self._alerts.values()), self._seq, self._status,
                            dict(self._unreadable))

    def event(self, event_id: str) -> CanonicalEvent | None:
        with self._lock:
            return self._events.get(event_id)

    def alert(self, alert_id: str) -> Alert | None:
        with self._lock:
            return self._alerts.get(alert_id)

    def updates_after(self, seq: int) -> list[Update] | None:
        """Changes numbered above `seq`, oldest first; None when some were already forgotten (reload)."""
        with self._lock:
            if self._log and seq < self._log[0].seq - 1:
                return None
            return [u for u in self._log if u.seq > seq]
