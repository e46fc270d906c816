"""The producing side: RawArticle / DeadLetter → Kafka (acks=all, idempotent, gzip, key = id, headers).

When the broker is down, records go to a bounded on-disk spool (JSON lines under the state dir) and are
sent, oldest first, when it answers again. Nothing is dropped silently: what the full spool cannot keep is
counted, logged and returned by `flush()` so the caller can fetch it again. A broker that refuses our TLS or
SASL settings is spooled for too, but logged as an error (once per kind of refusal) and reported by `health()`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kafka.errors import KafkaError

from connectors.kafka_io import KafkaAuthError, KafkaUnavailable, headers_for, make_producer
from nkru.settings import KafkaSettings
from schemas.records import DeadLetter, RawArticle
from schemas.topics import DEAD_LETTERS, RAW, topic

log = logging.getLogger(__name__)


@dataclass
class PublisherStats:
    sent: int = 0  # acknowledged by the broker (live or from the spool)
    spooled: int = 0  # written to the spool
    drained: int = 0  # of those, later acknowledged
    dropped: int = 0  # could not be kept (spool full): counted, logged, returned by flush()


@dataclass(frozen=True)
class _Record:
    topic: str
    key: str
    value: str
    headers: tuple[tuple[str, str], ...] = ()

    def line(self) -> bytes:
        return (json.dumps({"t": self.topic, "k": self.key, "v": self.value, "h": self.headers},
                           ensure_ascii=False) + "\n").encode("utf-8")

    @classmethod
    def from_line(cls, line: bytes) -> _Record:
        data = json.loads(line)
        return cls(data["t"], data["k"], data["v"], tuple(tuple(h) for h in data["h"]))


@dataclass
class Spool:
    """Append-only JSON-lines segments in `directory`, oldest first, at most `max_bytes` in all."""

    directory: Path
    max_bytes: int = 256 * 1024 * 1024
    segment_bytes: int = 4 * 1024 * 1024
    _writer: Any = field(default=None, init=False, repr=False)
    _seq: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._seq = max((int(p.stem) for p in self.segments()), default=0)
        self.size = sum(p.stat().st_size for p in self.segments())

    def segments(self) -> list[Path]:
        return sorted((p for p in self.directory.glob("*.jsonl") if p.stem.isdigit()), key=lambda p: int(p.stem))

    def append(self, record: _Record) -> bool:
        data = record.line()
        if self.size + len(data) > self.max_bytes:
            return False
        if self._writer is None or self._writer.tell() >= self.segment_bytes:
            self.seal()
            self._seq += 1
            self._writer = open(self.directory / f"{self._seq:012d}.jsonl", "ab")  # noqa: SIM115 - sealed later
        self._writer.write(data)
        self._writer.flush()
        self.size += len(data)
        return True

    def sync(self) -> None:
        if self._writer is not None:
            os.fsync(self._writer.fileno())

    def seal(self) -> None:
        if self._writer is not None:
            self.sync()
            self._writer.close()
            self._writer = None

    def read(self, segment: Path) -> list[_Record]:
        records = []
        for number, line in enumerate(segment.read_bytes().splitlines(), 1):
            try:
                records.append(_Record.from_line(line))
            except (ValueError, KeyError, TypeError):  # a torn last line after a crash
                log.error("spool %s line %d is unreadable and skipped", segment, number)
        return records

    def remove(self, segment: Path) -> None:
        self.size -= segment.stat().st_size
        segment.unlink()

    def __len__(self) -> int:
        return sum(len(self.read(p)) for p in self.segments())


class KafkaPublisher:
    """Publishes articles to the raw topic and dead letters to the dead-letter topic, without loss."""

    def __init__(self, kafka: KafkaSettings, spool_dir: Path, *, spool_max_bytes: int = 256 * 1024 * 1024,
                 delivery_timeout: float = 30.0, connect_timeout: float = 5.0, probe_interval: float = 10.0
                 ) -> None:
        self.kafka = kafka
        self.raw_topic = topic(RAW, kafka.topic_prefix)
        self.dl_topic = topic(DEAD_LETTERS, kafka.topic_prefix)
        self.spool = Spool(spool_dir, spool_max_bytes)
        self.stats = PublisherStats()
        self.delivery_timeout = delivery_timeout
        self.connect_timeout = connect_timeout
        self.probe_interval = probe_interval
        self._lock = threading.RLock()
        self._inflight: dict[int, _Record] = {}
        self._seq = 0
        self._unkept: set[str] = set()
        self._producer: Any = None
        self._healthy = False
        self._full = False  # a record was dropped since the spool last drained
        self.refused: str | None = None  # why the broker refuses our TLS/SASL settings, while it does
        self._refused_kind: str | None = None
        self._next_probe = 0.0
        self._connect()

    @classmethod
    def from_settings(cls, settings: Any, **options: Any) -> KafkaPublisher:
        return cls(settings.kafka, Path(settings.state_dir) / "spool", **options)

    # -- producing -------------------------------------------------------------------------------------------
    def publish(self, article: RawArticle, feed_id: str | None, fetched_at: datetime | None) -> None:
        extra = {"feed_id": feed_id or "", "fetched_at": fetched_at.isoformat() if fetched_at else ""}
        self._send(_Record(self.raw_topic.name, article.id, self.raw_topic.encode(article).decode("utf-8"),
                           tuple((k, v.decode()) for k, v in headers_for(self.raw_topic, **extra))))

    def publish_dead_letter(self, dl: DeadLetter, feed_id: str | None = None) -> None:
        extra = {"feed_id": feed_id} if feed_id else {}
        self._send(_Record(self.dl_topic.name, dl.stage, self.dl_topic.encode(dl).decode("utf-8"),
                           tuple((k, v.decode()) for k, v in headers_for(self.dl_topic, **extra))))

    def _send(self, record: _Record) -> None:
        with self._lock:
            if not self._healthy or self.spool.size > 0:
                self._keep(record)
                return
            self._seq += 1
            seq = self._seq
            self._inflight[seq] = record
        try:
            future = self._producer.send(record.topic, key=record.key.encode("utf-8"),
                                         value=record.value.encode("utf-8"),
                                         headers=[(k, v.encode("utf-8")) for k, v in record.headers])
        except KafkaError as exc:
            self._failed(seq, exc)
            return
        future.add_callback(lambda _meta, s=seq: self._acked(s))
        future.add_errback(lambda exc, s=seq: self._failed(s, exc))

    def _acked(self, seq: int) -> None:
        with self._lock:
            if self._inflight.pop(seq, None) is not None:
                self.stats.sent += 1

    def _failed(self, seq: int, exc: BaseException) -> None:
        with self._lock:
            record = self._inflight.pop(seq, None)
            if record is None:
                return
            if self._healthy:
                log.warning("Kafka did not take a record (%s); spooling until the broker answers", exc)
            self._healthy = False
            self._keep(record)

    def _keep(self, record: _Record) -> None:
        """Spool a record, or count and log it as dropped when the spool is full (lock held)."""
        if self.spool.append(record):
            self.stats.spooled += 1
            return
        self.stats.dropped += 1
        self._full = True
        self._unkept.add(record.key)
        log.error("spool full (%d bytes): dropped record key=%s topic=%s; it will be fetched again",
                  self.spool.max_bytes, record.key, record.topic)

    # -- delivery and recovery -------------------------------------------------------------------------------
    def _connect(self) -> bool:
        if self._producer is not None:
            return True
        try:
            self._producer = make_producer(
                self.kafka, delivery_timeout_ms=int(self.delivery_timeout * 1000),
                request_timeout_ms=max(1000, int(self.delivery_timeout * 1000) // 3),
                max_block_ms=int(self.connect_timeout * 1000), bootstrap_timeout_ms=int(self.connect_timeout * 1000),
                reconnect_backoff_max_ms=2000)
        except KafkaAuthError as exc:
            self._refused(exc)
            self._healthy = False
            return False
        except (KafkaUnavailable, KafkaError, OSError) as exc:
            log.warning("Kafka unavailable at %s (%s); records go to the spool at %s",
                        self.kafka.bootstrap_servers, exc, self.spool.directory)
            self._healthy = False
            return False
        if self.refused is not None:
            log.info("Kafka accepts this client's settings again; sending the spool")
            self.refused, self._refused_kind = None, None
        self._healthy = self.spool.size == 0
        return True

    def _refused(self, exc: KafkaAuthError) -> None:
        """An error once per distinct refusal (the retries repeat it quietly): it needs the operator."""
        if exc.kind != self._refused_kind:
            log.error("%s; records are kept in the spool at %s until the settings are fixed",
                      exc, self.spool.directory)
        else:
            log.debug("still refused: %s", exc)
        self.refused, self._refused_kind = str(exc), exc.kind

    def health(self) -> bool | str:
        """True, or why not: the broker refuses our TLS/SASL settings (an outage only fills the spool)."""
        return self.refused or True

    def _wait(self) -> None:
        """Wait until every in-flight record is acknowledged or spooled."""
        if self._producer is not None:
            try:
                self._producer.flush(timeout=self.delivery_timeout + 5)
            except KafkaError:
                pass
        with self._lock:
            stuck = list(self._inflight)
        for seq in stuck:
            self._failed(seq, TimeoutError("not acknowledged in time"))

    def drain(self, force: bool = False) -> int:
        """Send spooled records, oldest segment first; stops at the first failure. Returns records sent."""
        now = time.monotonic()
        if not self.spool.segments() or (not force and now < self._next_probe):
            return 0
        self._next_probe = now + self.probe_interval
        if not self._connect():
            return 0
        with self._lock:
            self.spool.seal()
        segments = self.spool.segments()
        skip = 0
        if not self._healthy:  # one record first, briefly: an outage must not stall the caller
            if not self._probe(self.spool.read(segments[0])[:1]):
                log.info("Kafka still not taking records; %d bytes stay in the spool", self.spool.size)
                return 0
            skip = 1
            self.stats.drained += 1
            self.stats.sent += 1
        sent = 0
        for segment in segments:
            records = self.spool.read(segment)[skip:]
            skip = 0
            if not self._send_segment(records):
                self._healthy = False
                log.info("Kafka still not taking records; %d bytes stay in the spool", self.spool.size)
                return sent
            with self._lock:
                self.spool.remove(segment)
                self._full = False
            sent += len(records)
            self.stats.drained += len(records)
            self.stats.sent += len(records)
        with self._lock:
            self._healthy = self.spool.size == 0
        if sent:
            log.info("sent %d spooled records to Kafka", sent)
        return sent

    def _probe(self, records: list[_Record]) -> bool:
        if not records:
            return True
        r = records[0]
        try:
            future = self._producer.send(r.topic, key=r.key.encode("utf-8"), value=r.value.encode("utf-8"),
                                         headers=[(k, v.encode("utf-8")) for k, v in r.headers])
            self._producer.flush(timeout=self.connect_timeout)
        except KafkaError:
            return False
        return future.is_done and future.succeeded()

    def _send_segment(self, records: list[_Record]) -> bool:
        futures = []
        try:
            for r in records:
                futures.append(self._producer.send(r.topic, key=r.key.encode("utf-8"), value=r.value.encode("utf-8"),
                                                   headers=[(k, v.encode("utf-8")) for k, v in r.headers]))
            self._producer.flush(timeout=self.delivery_timeout + 5)
        except KafkaError:
            return False
        return all(f.is_done and f.succeeded() for f in futures)

    def flush(self) -> set[str]:
        """Deliver or spool everything published so far, try the spool; return keys that could not be kept."""
        self._wait()
        with self._lock:
            self.spool.sync()
        self.drain()
        with self._lock:
            unkept, self._unkept = self._unkept, set()
        return unkept

    @property
    def accepting(self) -> bool:
        """False when the spool is full: the caller should stop fetching until it drains."""
        return not self._full and self.spool.size < self.spool.max_bytes * 0.95

    @property
    def backlog(self) -> int:
        return self.spool.size

    def close(self) -> None:
        self.flush()
        with self._lock:
            self.spool.seal()
        if self._producer is not None:
            try:
                self._producer.close(timeout=5)
            except KafkaError:
                pass
            self._producer = None
