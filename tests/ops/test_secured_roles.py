"""The roles against the secured broker (tests/ops/conftest.py): a refused login stops `nkru process` and
`nkru run` at once with the refusal and no advice to start a local broker; the feed publisher keeps
spooling, reports the refusal once as an error and /healthz says why; and a client built from an options
dict (as the Beam Kafka source builds its consumer) keeps its password out of kafka-python's debug log."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from kafka import KafkaConsumer

from connectors.kafka_io import KafkaUnavailable, ensure_topics, guard_client_options, make_consumer
from connectors.publisher import KafkaPublisher
from nkru.cli import main
from nkru.jobs import kafka_problem
from nkru.observability import serve, uptime_health
from schemas.records import RawArticle
from schemas.topics import RAW, topic
from tests.ops.conftest import GUARDED_PASSWORD, GUARDED_USER, PLAIN_PASSWORD, PLAIN_USER, USER, WRONG, secured_settings

pytestmark = pytest.mark.kafka

LOCAL_BROKER_HINT = "start one with `nkru kafka start`"
# the broker refuses the login, or (as often) closes the connection before kafka-python reads the refusal
REFUSAL = f"SASL SCRAM-SHA-256 login of user '{USER}'"


def test_an_unreachable_broker_gets_the_hint_to_start_one():
    message = kafka_problem(KafkaUnavailable("no Kafka broker answers at 127.0.0.1:1"))
    assert message.startswith("no Kafka broker answers at 127.0.0.1:1; ") and LOCAL_BROKER_HINT in message


@pytest.mark.parametrize("command", [["process"], ["run", "--no-sample"]])
def test_a_refused_login_stops_the_role_with_the_refusal_only(secured_broker, certs, command, tmp_path,
                                                              monkeypatch, logging_restored):
    kafka = secured_settings(secured_broker, certs, "sasl-scram-sha-256", password=WRONG)
    for name, value in {"BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                        "SASL_MECHANISM": "SCRAM-SHA-256", "SASL_USERNAME": USER, "SASL_PASSWORD": WRONG,
                        "TOPIC_PREFIX": kafka.topic_prefix}.items():
        monkeypatch.setenv(f"NKRU_KAFKA__{name}", value)
    monkeypatch.setenv("NKRU_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("NKRU_OBSERVABILITY__PORT", "0")
    started = time.monotonic()
    result = CliRunner().invoke(main, command)
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(f"Error: Kafka at {kafka.bootstrap_servers} "), result.output
    assert REFUSAL in last and "check kafka.sasl_mechanism, kafka.sasl_username and kafka.sasl_password" in last
    assert LOCAL_BROKER_HINT not in result.output
    assert "starting the local Kafka broker" not in result.output  # `nkru run` left the secured broker alone
    assert elapsed < 20 and WRONG not in result.output


def _articles(n: int) -> list[RawArticle]:
    return [RawArticle(id=f"https://refused.example/{i}", title=f"story {i}", text="Troops moved.") for i in range(n)]


def _healthz(health) -> tuple[int, dict]:
    server, port = serve("127.0.0.1", 0, health)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    finally:
        server.shutdown()


def test_a_refused_publisher_spools_says_why_once_and_is_unhealthy(secured_broker, certs, tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="connectors.publisher")
    refused = secured_settings(secured_broker, certs, "sasl-scram-sha-256", password=WRONG)
    publisher = KafkaPublisher(refused, tmp_path / "spool", probe_interval=0)
    articles = _articles(3)
    for article in articles:
        publisher.publish(article, "refused-feed", datetime.now(UTC))
    for _ in range(2):  # the retries: each logs in again and is refused again
        assert publisher.drain(force=True) == 0
    errors = [r.getMessage() for r in caplog.records if r.name == "connectors.publisher" and r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"Kafka at {refused.bootstrap_servers} ") and REFUSAL in errors[0]
    assert "kept in the spool" in errors[0] and WRONG not in caplog.text
    assert (publisher.stats.sent, publisher.stats.spooled, publisher.stats.dropped) == (0, 3, 0)

    status, body = _healthz(uptime_health(time.monotonic(), {"streaming_job": lambda: True,
                                                             "kafka_publisher": publisher.health}))
    assert status == 503 and body["ok"] is False
    assert body["checks"] == {"streaming_job": True, "kafka_publisher": False}
    assert REFUSAL in body["problems"]["kafka_publisher"]
    publisher.close()

    # nothing was lost: with the right password, the next publisher sends what the refused one kept
    fixed = secured_settings(secured_broker, certs, "sasl-scram-sha-256", topic_prefix=refused.topic_prefix)
    ensure_topics(fixed)
    publisher = KafkaPublisher(fixed, tmp_path / "spool")
    assert publisher.health() is True
    publisher.drain(force=True)
    publisher.close()
    assert publisher.stats.drained == 3
    consumer = make_consumer(fixed, topic(RAW, fixed.topic_prefix).name)
    try:
        ids, deadline = set(), time.monotonic() + 30
        while len(ids) < 3 and time.monotonic() < deadline:
            ids |= {json.loads(r.value)["id"] for batch in consumer.poll(timeout_ms=500).values() for r in batch}
    finally:
        consumer.close()
    assert ids == {a.id for a in articles}


def _log_in(options: dict) -> None:
    """Build a consumer from `options` as the Beam source does (kafka-python directly) and make it log in."""
    consumer = KafkaConsumer(**options)
    try:
        assert consumer.topics() is not None
    finally:
        consumer.close()


def test_clients_built_from_options_keep_the_password_out_of_debug_logs(secured_broker, certs, caplog):
    caplog.set_level(logging.DEBUG)

    def options(user: str, password: str) -> dict:
        kafka = secured_settings(secured_broker, certs, "sasl-plain", password=password, sasl_username=user)
        return dict(bootstrap_servers=kafka.bootstrap_servers, client_id="nkru-guard-test", **kafka.client_options())

    _log_in(options(PLAIN_USER, PLAIN_PASSWORD))  # unguarded: kafka-python logs the PLAIN login bytes
    assert PLAIN_PASSWORD in caplog.text, "no login was logged: this test would prove nothing"
    caplog.clear()

    guarded = options(GUARDED_USER, GUARDED_PASSWORD)
    guard_client_options(guarded)
    guard_client_options(guarded)  # idempotent
    _log_in(guarded)
    assert f"\\x00{GUARDED_USER}\\x00***" in caplog.text  # the login was logged, without its password
    assert GUARDED_PASSWORD not in caplog.text
