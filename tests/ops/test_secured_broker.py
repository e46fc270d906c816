"""TLS and SASL against the real broker: the secured broker of tests/ops/conftest.py with SASL_PLAINTEXT (PLAIN,
SCRAM-SHA-256), SSL and SASL_SSL (SCRAM-SHA-512) listeners and a CA made with openssl. For each, our own code paths —
ensure_topics, the feed publisher, the kafka_io producer and consumer, `nkru alerts` — carry records;
a wrong password, an unknown user or a wrong CA fail at once with a message naming the setting, and the
password appears in no log line and no output."""

from __future__ import annotations

import io
import json
import logging
import time
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from connectors.kafka_io import KafkaAuthError, ensure_topics, make_consumer, make_producer
from connectors.publisher import KafkaPublisher
from nkru.cli import main
from nkru.settings import ConfigError, Settings, load_settings
from nkru.subscribe import AlertFilter, follow_alerts
from schemas.records import Alert, RawArticle
from schemas.topics import ALERTS, RAW, TOPICS, topic
from tests.ops.conftest import CASES, PASSWORD, USER, WRONG, secured_settings

pytestmark = pytest.mark.kafka


def _read(consumer, want: int, deadline_s: float = 30.0) -> list:
    records, deadline = [], time.monotonic() + deadline_s
    while len(records) < want and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    return records


def _alert(n: int) -> Alert:
    return Alert(alert_id=f"a{n}", event_id=f"e{n}", revision=1, kind="new", severity="high",
                 event_type="troop_deployment", summary=f"secured alert {n}", actors=["PRK", "RUS"],
                 event_time=datetime(2024, 10, 18, tzinfo=UTC), ontology_version="t")


@pytest.mark.parametrize("case", list(CASES))
def test_topics_publisher_consumer_and_alerts_over_a_secured_listener(secured_broker, certs, case, tmp_path, caplog,
                                                                      capsys):
    caplog.set_level(logging.DEBUG)
    kafka = secured_settings(secured_broker, certs, case)
    assert sorted(ensure_topics(kafka)) == sorted(topic(n, kafka.topic_prefix).name for n in TOPICS)

    publisher = KafkaPublisher(kafka, tmp_path / "spool")
    articles = [RawArticle(id=f"https://secured.example/{case}/{i}", title=f"story {i}", text="Troops moved.")
                for i in range(5)]
    for article in articles:
        publisher.publish(article, "secured-feed", datetime.now(UTC))
    publisher.close()
    assert (publisher.stats.sent, publisher.stats.spooled, publisher.stats.dropped) == (5, 0, 0)

    consumer = make_consumer(kafka, topic(RAW, kafka.topic_prefix).name)
    try:
        raw = _read(consumer, len(articles))
    finally:
        consumer.close()
    assert sorted(json.loads(r.value)["id"] for r in raw) == sorted(a.id for a in articles)

    producer = make_producer(kafka)
    alerts = [_alert(n) for n in range(3)]
    for alert in alerts:
        producer.send(topic(ALERTS, kafka.topic_prefix).name, key=alert.event_id.encode(),
                      value=alert.model_dump_json().encode())
    producer.flush(timeout=30)
    producer.close()
    out = io.StringIO()
    printed = follow_alerts(Settings(kafka=kafka), AlertFilter(), from_beginning=True, as_json=True, out=out,
                            max_alerts=len(alerts), idle_timeout=20)
    assert printed == 3 and sorted(json.loads(line)["alert_id"] for line in out.getvalue().splitlines()) == [
        "a0", "a1", "a2"]

    captured = capsys.readouterr()
    assert PASSWORD not in caplog.text + captured.out + captured.err + out.getvalue()
    assert any(r.name.startswith("kafka.") for r in caplog.records)  # the clients' own debug logs were seen


@pytest.mark.parametrize("case,user", [("sasl-plain", USER), ("sasl-scram-sha-256", USER),
                                       ("sasl-scram-sha-256", "mallory"), ("sasl-ssl-scram-sha-512", USER)])
def test_a_refused_login_fails_at_once_naming_the_settings(secured_broker, certs, case, user, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    kafka = secured_settings(secured_broker, certs, case, password=WRONG, sasl_username=user)
    started = time.monotonic()
    with pytest.raises(KafkaAuthError) as refused:
        ensure_topics(kafka)
    elapsed = time.monotonic() - started
    message = str(refused.value)
    assert f"Kafka at {kafka.bootstrap_servers}" in message
    assert f"SASL {kafka.sasl_mechanism} login of user '{user}'" in message
    assert "check kafka.sasl_mechanism, kafka.sasl_username and kafka.sasl_password" in message
    assert elapsed < 10, f"took {elapsed:.1f}s: the client's 30 s bootstrap retry was not cut short"
    with pytest.raises(KafkaAuthError):
        make_consumer(kafka, topic(ALERTS, kafka.topic_prefix).name)
    captured = capsys.readouterr()
    assert WRONG not in message + caplog.text + captured.out + captured.err


def test_nkru_alerts_with_a_wrong_password_says_so_without_the_password(secured_broker, certs, monkeypatch,
                                                                         logging_restored):
    kafka = secured_settings(secured_broker, certs, "sasl-scram-sha-256")
    for name, value in {"BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                        "SASL_MECHANISM": "SCRAM-SHA-256", "SASL_USERNAME": USER, "SASL_PASSWORD": WRONG}.items():
        monkeypatch.setenv(f"NKRU_KAFKA__{name}", value)
    started = time.monotonic()
    result = CliRunner().invoke(main, ["--log-level", "DEBUG", "alerts", "--from-beginning", "--timeout", "5"])
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(f"Error: Kafka at {kafka.bootstrap_servers}") and "login of user 'alice'" in last
    assert "kafka.sasl_password" in last and elapsed < 15
    assert WRONG not in result.output


def test_a_client_with_the_wrong_ca_is_refused(secured_broker, certs, caplog):
    caplog.set_level(logging.DEBUG)
    kafka = secured_settings(secured_broker, certs, "ssl", ssl_cafile=certs / "other-ca.pem")
    started = time.monotonic()
    with pytest.raises(KafkaAuthError, match=r"its TLS certificate is not trusted \(unable to get local issuer "
                                             r"certificate; check kafka.ssl_cafile = .*other-ca.pem\)"):
        ensure_topics(kafka)
    assert time.monotonic() - started < 10
    with pytest.raises(KafkaAuthError, match="not trusted"):
        make_producer(kafka)
    # and with no CA at all, the system's CAs do not vouch for a test CA either
    with pytest.raises(KafkaAuthError, match="kafka.ssl_cafile, which is not set"):
        ensure_topics(secured_settings(secured_broker, certs, "ssl", ssl_cafile=None))


def test_a_sasl_protocol_without_credentials_is_a_settings_error(monkeypatch):
    monkeypatch.setenv("NKRU_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("NKRU_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512")
    with pytest.raises(ConfigError, match="security_protocol SASL_SSL needs kafka.sasl_username, "
                                          "kafka.sasl_password"):
        load_settings()
    monkeypatch.setenv("NKRU_KAFKA__SASL_USERNAME", USER)
    monkeypatch.setenv("NKRU_KAFKA__SASL_PASSWORD", PASSWORD)
    settings = load_settings()
    assert settings.kafka.client_options()["sasl_plain_password"] == PASSWORD
    assert PASSWORD not in repr(settings) and PASSWORD not in settings.model_dump_json()
