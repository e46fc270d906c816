"""Shared fixtures: the real Kafka broker (started here unless NKRU_TEST_BOOTSTRAP names a running one),
per-test topic prefixes, a private broker for tests that stop it, and the Prism runner binary.

A test that needs Kafka or the runner fails when they cannot be had; nothing here skips.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from connectors import kafka_broker
from connectors.kafka_io import ensure_topics
from nkru.settings import KafkaSettings

REPO = Path(__file__).resolve().parent.parent


free_port = kafka_broker.free_port


def _start_private(data_dir: Path) -> kafka_broker.BrokerConfig:
    cfg = kafka_broker.private(data_dir)
    kafka_broker.start(cfg)
    return cfg


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory) -> str:
    """host:port of the session's real broker."""
    given = os.environ.get("NKRU_TEST_BOOTSTRAP")
    if given:
        host, _, port = given.rpartition(":")
        cfg = kafka_broker.BrokerConfig(data_dir=tmp_path_factory.mktemp("unused"), host=host, port=int(port))
        if not kafka_broker.answers(cfg, timeout=10):
            pytest.fail(f"NKRU_TEST_BOOTSTRAP={given} names no answering Kafka broker")
        yield given
        return
    cfg = _start_private(tmp_path_factory.mktemp("kafka"))
    yield cfg.bootstrap
    kafka_broker.stop(cfg)


@pytest.fixture
def kafka_settings(kafka_bootstrap) -> KafkaSettings:
    """Settings for the session broker with a topic prefix of this test's own; the topics exist."""
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
                             partitions=2)
    ensure_topics(settings)
    return settings


@pytest.fixture
def private_broker(tmp_path):
    """A broker of this test's own (for tests that stop and restart it); stopped at the end."""
    cfg = _start_private(tmp_path / "kafka")
    yield cfg
    kafka_broker.stop(cfg)


@pytest.fixture(scope="session")
def prism_binary() -> Path:
    from pipeline.runners import build_prism

    return build_prism()
