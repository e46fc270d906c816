"""kafka-python clients configured from settings: producers, consumers, and topic creation/checking.

Every producer is durable by default (acks=all, idempotence, retries, gzip); every record is keyed by
the topic's registry key and carries the schema version in its headers. Against a TLS or SASL listener,
a refused certificate or login fails at once with `KafkaAuthError` naming the setting to check.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from typing import Any, Iterable

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import (
    IllegalSaslStateError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    SaslAuthenticationFailedError,
    TopicAlreadyExistsError,
    UnsupportedSaslMechanismError,
)

NoBrokersAvailable = (KafkaTimeoutError, KafkaConnectionError)  # what kafka-python 3 raises when none answers

from nkru.settings import KafkaSettings
from schemas.topics import MAX_RECORD_BYTES, TOPICS, Topic, topic

log = logging.getLogger(__name__)


class KafkaUnavailable(RuntimeError):
    """The broker cannot be reached; the message names the bootstrap servers."""


class KafkaAuthError(KafkaUnavailable):
    """The broker answers but refuses our TLS or SASL settings; the message names the settings to check.

    `kind` is "sasl" (the login) or "tls" (the certificate or handshake): the same refusal can be worded
    differently from one attempt to the next (a refused login, or the connection closed during it).
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class _RedactSecrets(logging.Filter):
    """Blanks the SASL password out of kafka-python's own records (at DEBUG it logs PLAIN's login bytes)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: frozenset[str] = frozenset()  # replaced, never changed: clients log from many threads

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self.secrets
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        if any(secret in message for secret in secrets):
            for secret in secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


_REDACT = _RedactSecrets()


def guard_client_logs(kafka: KafkaSettings) -> None:
    """Make sure no kafka-python logger can print this settings' SASL password (as text or in a bytes repr)."""
    guard_client_options(kafka.client_options())


def guard_client_options(client_options: dict[str, Any]) -> None:
    """`guard_client_logs` for a kafka-python options dict, such as the one the Beam Kafka source carries to
    its workers (`KafkaSettings.client_options()`): call it where a client is built from such a dict.

    Idempotent and cheap: after the first call for a password it only compares a count of loggers. The
    password goes into the redaction filter, and the filter onto every kafka-python logger (this module's
    imports of the clients have created them; filters do not apply to records of child loggers).
    """
    secret = client_options.get("sasl_plain_password")
    if not secret:
        return
    loggers = logging.root.manager.loggerDict
    if secret in _REDACT.secrets and len(loggers) == _guarded["loggers"]:
        return
    _REDACT.secrets = _REDACT.secrets | {secret, repr(secret.encode())[2:-1]}
    for name in list(loggers):
        if name == "kafka" or name.startswith("kafka."):
            logging.getLogger(name).addFilter(_REDACT)  # addFilter adds a filter once
    _guarded["loggers"] = len(loggers)


_guarded = {"loggers": 0}


def check_access(kafka: KafkaSettings, timeout: float = 5.0, attempts: int = 4) -> None:
    """Raise KafkaAuthError when a secured broker refuses the configured certificate authority or login.

    kafka-python 3.0.12 retries such a refusal until its bootstrap timeout (30 s) and then reports only
    that no broker answered, so one direct connection is tried first. A broker that cannot be reached is
    left to the clients (they wait, spool or report it as before); PLAINTEXT is not checked.
    """
    guard_client_logs(kafka)
    if kafka.security_protocol == "PLAINTEXT":
        return
    key = (kafka.bootstrap_servers, *sorted((k, str(v)) for k, v in kafka.client_options().items()))
    if time.monotonic() - _accepted.get(key, float("-inf")) < ACCEPTED_FOR_S:
        return  # every client of a role is built within seconds: one login check serves them all
    server = _first_reachable(kafka.bootstrap_servers, timeout)
    if server is None:
        return
    dropped = False
    for _ in range(attempts):
        exc = _connect_once(kafka, server, timeout)
        problem = _refusal(kafka, server, exc)
        if problem:
            raise KafkaAuthError(problem, "tls" if isinstance(exc, KafkaConnectionError) else "sasl")
        # the broker closes the socket right after a failed login, and kafka-python sometimes reads the
        # close before the error response: try again for the real answer
        dropped = isinstance(exc, KafkaConnectionError) and exc.args == ("socket disconnected",)
        if not dropped:
            if exc is None:
                _accepted[key] = time.monotonic()
            return
    if dropped and kafka.sasl_mechanism:
        raise KafkaAuthError(f"Kafka at {server} closed the connection during the SASL {kafka.sasl_mechanism} "
                             f"login of user {kafka.sasl_username!r} ({_SASL_HINT})", "sasl")


ACCEPTED_FOR_S = 60.0  # a successful check is not repeated for the same settings within this time
_accepted: dict[tuple, float] = {}
_SASL_HINT = "check kafka.sasl_mechanism, kafka.sasl_username and kafka.sasl_password"


def _refusal(kafka: KafkaSettings, server: str, exc: BaseException | None) -> str | None:
    """A user-facing sentence when `exc` is a TLS or SASL refusal (never the password), else None."""
    if isinstance(exc, SaslAuthenticationFailedError):
        reason = str(exc.args[0] if exc.args else "").removeprefix("SaslAuthenticationFailedError: ")
        return (f"Kafka at {server} refused the SASL {kafka.sasl_mechanism} login of user "
                f"{kafka.sasl_username!r}: {reason} ({_SASL_HINT})")
    if isinstance(exc, (UnsupportedSaslMechanismError, IllegalSaslStateError)):
        return (f"Kafka at {server} does not accept a SASL {kafka.sasl_mechanism} login there "
                f"({type(exc).__name__}; check kafka.security_protocol and kafka.sasl_mechanism)")
    cause = exc.__context__ if isinstance(exc, KafkaConnectionError) else None
    if isinstance(cause, ssl.SSLCertVerificationError):
        return (f"Kafka at {server}: its TLS certificate is not trusted ({cause.verify_message}; check "
                f"kafka.ssl_cafile{f' = {kafka.ssl_cafile}' if kafka.ssl_cafile else ', which is not set'})")
    if isinstance(cause, ssl.SSLError):
        return (f"Kafka at {server}: the TLS handshake failed ({cause.reason or cause}; is it a TLS listener? "
                f"check kafka.security_protocol and kafka.ssl_* settings)")
    return None


def _first_reachable(bootstrap_servers: str, timeout: float) -> str | None:
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                return server.strip()
        except (OSError, ValueError):
            continue
    return None


def _connect_once(kafka: KafkaSettings, server: str, timeout: float) -> BaseException | None:
    """One connection with the handshake and login the clients would do; the error it ended with, if any."""
    # kafka-python's connection layer (pinned 3.0.12): the public clients hide the cause of a refusal
    from kafka.net.manager import KafkaConnectionManager
    from kafka.net.selector import NetworkSelector

    opts = dict(bootstrap_servers=server, client_id="nkru-check", **kafka.client_options())
    net = NetworkSelector(**opts)
    manager = KafkaConnectionManager(net, **opts)

    async def attempt() -> None:
        await manager.get_connection(manager.cluster.bootstrap_brokers()[0].node_id, timeout_ms=timeout * 1000)

    try:
        manager.run(attempt)
        return None
    except Exception as exc:  # noqa: BLE001 - classified by the caller
        return exc
    finally:
        manager.close()
        net.close()


def make_producer(kafka: KafkaSettings, **extra: Any) -> KafkaProducer:
    opts: dict[str, Any] = dict(
        bootstrap_servers=kafka.bootstrap_servers, acks="all", enable_idempotence=True,
        compression_type="gzip", linger_ms=5, retries=2**31 - 1, max_in_flight_requests_per_connection=5,
        max_request_size=MAX_RECORD_BYTES, client_id="nkru-producer")
    opts.update(kafka.client_options())
    opts.update(extra)
    check_access(kafka)
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
    check_access(kafka)
    try:
        return KafkaConsumer(*topics, **opts)
    except NoBrokersAvailable:
        raise KafkaUnavailable(f"no Kafka broker answers at {kafka.bootstrap_servers}") from None


def make_admin(kafka: KafkaSettings) -> KafkaAdminClient:
    check_access(kafka)
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
        _raise_size_floors(admin, [t for t in wanted if t.name not in created], kafka.create_topics)
        return created
    finally:
        admin.close()


SIZE_FLOOR = "max.message.bytes"


def _raise_size_floors(admin: KafkaAdminClient, existing: list[Topic], allowed: bool) -> list[str]:
    """Existing topics whose record-size limit is below what nkru writes to them (the canonical topic's latest
    states may pass Kafka's 1 MB default): raised when nkru manages topics (`kafka.create_topics`), else each is
    named in a warning with the command that raises it. A broker that refuses to describe or alter topic configs
    (no permission) is warned about, not fatal. Returns the topics that may still be too small."""
    floors = {t.name: int(floor) for t in existing if (floor := dict(t.configs).get(SIZE_FLOOR)) is not None}
    if not floors:
        return []
    try:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name,
                                                           configs={SIZE_FLOOR: None}) for name in floors],
                                           config_filter="all")
        limits = {name: int(described["topic"][name][SIZE_FLOOR]["value"]) for name in floors}
    except (KafkaError, KeyError, TypeError, ValueError) as exc:  # e.g. no DescribeConfigs permission
        log.warning("could not read %s of topics %s (%s); records over Kafka's default of 1 MB may be refused",
                    SIZE_FLOOR, ", ".join(floors), exc)
        return sorted(floors)
    small = {name: value for name, value in limits.items() if value < floors[name]}
    if small and allowed:
        try:
            admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name,
                                                configs={SIZE_FLOOR: str(floors[name])}) for name in small])
        except KafkaError as exc:
            log.warning("could not raise %s of topics %s (%s)", SIZE_FLOOR, ", ".join(small), exc)
        else:
            for name, value in small.items():
                log.info("raised %s of topic %s from %d to %d", SIZE_FLOOR, name, value, floors[name])
            return []
    for name, value in small.items():
        log.warning("topic %s allows records of %d bytes, nkru may write up to %d (%s): kafka-configs.sh "
                    "--bootstrap-server HOST:PORT --alter --entity-type topics --entity-name %s --add-config %s=%d",
                    name, value, floors[name],
                    "nkru could not raise it" if allowed else "kafka.create_topics=false, so nkru leaves it",
                    name, SIZE_FLOOR, floors[name])
    return sorted(small)


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
