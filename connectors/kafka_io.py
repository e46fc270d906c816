"""kafka-python clients configured from settings: producers, consumers, and topic creation/checking.

Every producer is durable by default (acks=all, idempotence, retries, gzip); every record is keyed by
the topic's registry key and carries the schema version in its headers.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Iterable

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, TopicAlreadyExistsError

NoBrokersAvailable = (KafkaTimeoutError, KafkaConnectionError)  # what kafka-python 3 raises when none answers

from nkru.settings import KafkaSettings
from schemas.topics import TOPICS, Topic, topic

log = logging.getLogger(__name__)


class KafkaUnavailable(RuntimeError):
    """The broker cannot be reached; the message names the bootstrap servers."""


def make_producer(kafka: KafkaSettings, **extra: Any) -> KafkaProducer:
    opts: dict[str, Any] = dict(
        bootstrap_servers=kafka.bootstrap_servers, acks="all", enable_idempotence=True,
        compression_type="gzip", linger_ms=5, retries=2**31 - 1, max_in_flight_requests_per_connection=5,
        client_id="nkru-producer")
    opts.update(kafka.client_options())
    opts.update(extra)
    try:
        return KafkaProducer(**opts)
    except NoBrokersAvailable:
        raise KafkaUnavailable(f"no Kafka broker answers at {kafka.bootstrap_servers}") from None


def make_consumer(kafka: KafkaSettings, *topics: str, group_id: str | None = None, **extra: Any) -> KafkaConsumer:
    opts: dict[str, Any] = dict(bootstrap_servers=kafka.bootstrap_servers, group_id=group_id,
                                auto_offset_reset="earliest", enable_auto_commit=group_id is not None,
                                client_id="nkru-consumer")
    opts.update(kafka.client_options())
    opts.update(extra)
    try:
        return KafkaConsumer(*topics, **opts)
    except NoBrokersAvailable:
        raise KafkaUnavailable(f"no Kafka broker answers at {kafka.bootstrap_servers}") from None


def make_admin(kafka: KafkaSettings) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers, client_id="nkru-admin",
                                **kafka.client_options())
    except NoBrokersAvailable:
        raise KafkaUnavailable(f"no Kafka broker answers at {kafka.bootstrap_servers}") from None


def topic_names(kafka: KafkaSettings, names: Iterable[str] | None = None) -> list[Topic]:
    return [topic(n, kafka.topic_prefix) for n in (names or TOPICS)]


def ensure_topics(kafka: KafkaSettings, names: Iterable[str] | None = None, timeout: float = 30.0) -> list[str]:
    """Create the registry's topics that are missing (when allowed) and check they all exist.

    Returns the names created. Raises RuntimeError naming the missing topics when creation is not allowed.
    """
    wanted = topic_names(kafka, names)
    admin = make_admin(kafka)
    try:
        existing = set(admin.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        if missing and not kafka.create_topics:
            raise RuntimeError("missing Kafka topics (creation disabled by kafka.create_topics=false): "
                               + ", ".join(t.name for t in missing))
        created = []
        for t in missing:
            configs = {"cleanup.policy": "compact" if t.compacted else "delete",
                       "retention.ms": str(t.retention_ms), **dict(t.configs)}
            try:
                admin.create_topics([NewTopic(t.name, kafka.partitions, kafka.replication_factor,
                                              topic_configs=configs)])
                created.append(t.name)
            except TopicAlreadyExistsError:
                pass
        _wait_for_topics(admin, [t.name for t in wanted], timeout)
        return created
    finally:
        admin.close()


def _wait_for_topics(admin: KafkaAdminClient, names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            present = set(admin.list_topics())
        except KafkaError:
            present = set()
        if all(n in present for n in names):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"topics did not appear within {timeout:.0f}s: "
                               + ", ".join(n for n in names if n not in present))
        time.sleep(0.2)


def headers_for(t: Topic, **extra: str) -> list[tuple[str, bytes]]:
    """Record headers: the schema version and model of the payload, plus any `extra` (feed id, fetched_at…)."""
    from schemas.records import SCHEMA_VERSION

    hdrs = [("schema_version", str(SCHEMA_VERSION).encode()), ("model", t.model.__name__.encode())]
    hdrs += [(k, v.encode()) for k, v in extra.items()]
    return hdrs
