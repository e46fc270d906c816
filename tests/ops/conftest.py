"""The secured broker shared by the ops tests: one private broker with SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256),
SSL and SASL_SSL (SCRAM-SHA-512) listeners and a CA made here with openssl, and settings for each case.

Like the session broker (tests/conftest.py), it fails the test when it cannot be had; nothing skips.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from connectors import kafka_broker
from nkru.settings import KafkaSettings
from tests.conftest import free_port

USER, PASSWORD = "alice", "Alice-pw-7f3e9c1d"
WRONG = "Wrong-pw-52b8aa07"
# two more users for the log-redaction tests: each password is known to this process only through its test
GUARDED_USER, GUARDED_PASSWORD = "bob", "Bob-pw-3c81e0aa"
PLAIN_USER, PLAIN_PASSWORD = "carol", "Carol-pw-9d24f6b7"

CASES: dict[str, dict[str, str]] = {
    "sasl-plain": {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN"},
    "sasl-scram-sha-256": {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256"},
    "ssl": {"security_protocol": "SSL"},
    "sasl-ssl-scram-sha-512": {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512"},
}


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def _make_ca(directory: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN=nkru test {name}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=directory)


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def secured_broker(certs, tmp_path_factory):
    """The broker with the secured listeners (`bootstrap_of(protocol)`); users alice, bob and carol."""
    users = ((USER, PASSWORD), (GUARDED_USER, GUARDED_PASSWORD), (PLAIN_USER, PLAIN_PASSWORD))
    tls = {"certfile": certs / "server.pem", "keyfile": certs / "server.key"}
    cfg = kafka_broker.private(
        tmp_path_factory.mktemp("secured-kafka"), listeners=(
            kafka_broker.Listener("SASL_PLAINTEXT", free_port(), ("PLAIN", "SCRAM-SHA-256"), users),
            kafka_broker.Listener("SSL", free_port(), **tls),
            kafka_broker.Listener("SASL_SSL", free_port(), ("SCRAM-SHA-512",), users, **tls)))
    kafka_broker.start(cfg)
    yield cfg
    kafka_broker.stop(cfg)


def secured_settings(broker, certs: Path, case: str, password: str = PASSWORD, **changes) -> KafkaSettings:
    """Settings for one of CASES on `broker` as alice (or as `changes` say), with a topic prefix of their own."""
    opts: dict = dict(CASES[case])
    if "sasl_mechanism" in opts:
        opts.update(sasl_username=USER, sasl_password=password)
    if opts["security_protocol"].endswith("SSL"):
        opts["ssl_cafile"] = certs / "ca.pem"
    opts.setdefault("topic_prefix", f"s{uuid.uuid4().hex[:8]}.")
    opts.update(changes)
    return KafkaSettings(bootstrap_servers=broker.bootstrap_of(opts["security_protocol"]), partitions=2, **opts)


@pytest.fixture
def logging_restored():
    """`nkru` sets up logging for the process; put the root handlers and library levels back afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in ("kafka", "apache_beam", "urllib3")}
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)
