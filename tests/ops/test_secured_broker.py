"""TLS and SASL against the real broker: one private broker with SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256), SSL
and SASL_SSL (SCRAM-SHA-512) listeners and a CA made here with openssl. For each, our own code paths —
ensure_topics, the feed publisher, the kafka_io producer and consumer, `nkru alerts` — carry records;
a wrong password, an unknown user or a wrong CA fail at once with a message naming the setting, and the
password appears in no log line and no output."""

from __future__ import annotations

import io
import json
import logging
import shutil
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors import kafka_broker
from connectors.kafka_io import KafkaAuthError, ensure_topics, make_consumer, make_producer
from connectors.publisher import KafkaPublisher
from nkru.cli import main
from nkru.settings import ConfigError, KafkaSettings, Settings, load_settings
from nkru.subscribe import AlertFilter, follow_alerts
from schemas.records import Alert, RawArticle
from schemas.topics import ALERTS, RAW, TOPICS, topic
from tests.conftest import free_port

USER, PASSWORD = "alice", "Alice-pw-7f3e9c1d"
WRONG = "Wrong-pw-52b8aa07"
pytestmark = pytest.mark.kafka


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def _make_ca(directory: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN=nkru test {name}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=directory)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    """ca.pem (signs server.pem for 127.0.0.1 and localhost), server.key, and an unrelated other-ca.pem."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the test CA")
    directory = tmp_path_factory.mktemp("certs")
    _make_ca(directory, "ca")
    _make_ca(directory, "other-ca")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key",
             "-out", "server.csr", "-subj", "/CN=localhost", cwd=directory)
    (directory / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.pem", "-days", "2", "-extfile", "server.ext", cwd=directory)
    return directory


@pytest.fixture(scope="module")
def broker(certs, tmp_path_factory):
    users = ((USER, PASSWORD),)
    tls = {"certfile": certs / "server.pem", "keyfile": certs / "server.key"}
    cfg = kafka_broker.BrokerConfig(
        data_dir=tmp_path_factory.mktemp("secured-kafka"), port=free_port(), controller_port=free_port(),
        heap="384m", listeners=(
            kafka_broker.Listener("SASL_PLAINTEXT", free_port(), ("PLAIN", "SCRAM-SHA-256"), users),
            kafka_broker.Listener("SSL", free_port(), **tls),
            kafka_broker.Listener("SASL_SSL", free_port(), ("SCRAM-SHA-512",), users, **tls)))
    kafka_broker.start(cfg)
    yield cfg
    kafka_broker.stop(cfg)


CASES: dict[str, dict[str, str]] = {
    "sasl-plain": {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN"},
    "sasl-scram-sha-256": {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256"},
    "ssl": {"security_protocol": "SSL"},
    "sasl-ssl-scram-sha-512": {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512"},
}


def _settings(broker, certs, case: str, password: str = PASSWORD, **changes) -> KafkaSettings:
    opts: dict = dict(CASES[case])
    if "sasl_mechanism" in opts:
        opts.update(sasl_username=USER, sasl_password=password)
    if opts["security_protocol"].endswith("SSL"):
        opts["ssl_cafile"] = certs / "ca.pem"
    opts.update(changes)
    return KafkaSettings(bootstrap_servers=broker.bootstrap_of(opts["security_protocol"]), partitions=2,
                         topic_prefix=f"s{uuid.uuid4().hex[:8]}.", **opts)


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
def test_topics_publisher_consumer_and_alerts_over_a_secured_listener(broker, certs, case, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    kafka = _settings(broker, certs, case)
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
def test_a_refused_login_fails_at_once_naming_the_settings(broker, certs, case, user, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    kafka = _settings(broker, certs, case, password=WRONG, sasl_username=user)
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


@pytest.fixture
def logging_restored():
    """`nkru` sets up logging for the process; put the root handlers and library levels back afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in ("kafka", "apache_beam", "urllib3")}
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def test_nkru_alerts_with_a_wrong_password_says_so_without_the_password(broker, certs, monkeypatch,
                                                                         logging_restored):
    kafka = _settings(broker, certs, "sasl-scram-sha-256")
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


def test_a_client_with_the_wrong_ca_is_refused(broker, certs, caplog):
    caplog.set_level(logging.DEBUG)
    kafka = _settings(broker, certs, "ssl", ssl_cafile=certs / "other-ca.pem")
    started = time.monotonic()
    with pytest.raises(KafkaAuthError, match=r"its TLS certificate is not trusted \(unable to get local issuer "
                                             r"certificate; check kafka.ssl_cafile = .*other-ca.pem\)"):
        ensure_topics(kafka)
    assert time.monotonic() - started < 10
    with pytest.raises(KafkaAuthError, match="not trusted"):
        make_producer(kafka)
    # and with no CA at all, the system's CAs do not vouch for a test CA either
    with pytest.raises(KafkaAuthError, match="kafka.ssl_cafile, which is not set"):
        ensure_topics(_settings(broker, certs, "ssl", ssl_cafile=None))


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
