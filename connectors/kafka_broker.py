"""The local Apache Kafka broker (KRaft, one node, loopback): install from Maven Central, start, stop, status.

Jars are resolved once by Maven into a cache outside the clone (``~/.cache/nkru/kafka-<version>``);
each data directory holds its own ``server.properties``, logs, pid file and cluster id. Optional extra
client listeners (SSL, SASL_PLAINTEXT, SASL_SSL) sit beside the PLAINTEXT one, for secured-client tests.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from nkru.paths import cache_dir
from nkru.procs import alive as _alive

KAFKA_VERSION = "4.1.1"
POM = Path(__file__).parent / "maven" / "kafka" / "pom.xml"


class BrokerError(RuntimeError):
    """The local broker could not be installed, started or stopped; the message says why."""


@dataclass(frozen=True)
class Listener:
    """An extra client listener, named after its protocol; the PLAINTEXT, controller and inter-broker ones stay.

    `users` are (name, password) pairs: PLAIN users go into the listener's JAAS line, SCRAM users are added
    to the metadata when the storage is first formatted. `certfile`/`keyfile` are PEM (key unencrypted).
    """

    protocol: Literal["SSL", "SASL_PLAINTEXT", "SASL_SSL"]
    port: int
    mechanisms: tuple[str, ...] = ()  # PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (SASL_* only)
    users: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    certfile: Path | None = None
    keyfile: Path | None = None


@dataclass(frozen=True)
class BrokerConfig:
    data_dir: Path
    port: int = 9092
    controller_port: int = 9093
    host: str = "127.0.0.1"
    heap: str = "512m"
    listeners: tuple[Listener, ...] = ()  # extra client listeners (SSL / SASL); none by default

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def bootstrap_of(self, protocol: str) -> str:
        """host:port of the extra listener speaking `protocol`."""
        return next(f"{self.host}:{lst.port}" for lst in self.listeners if lst.protocol == protocol)

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def private(data_dir: Path, heap: str = "384m", listeners: tuple[Listener, ...] = ()) -> BrokerConfig:
    """The config of a broker of one's own (tests, benchmarks) on free loopback ports; not started."""
    return BrokerConfig(data_dir=data_dir, port=free_port(), controller_port=free_port(), heap=heap,
                        listeners=listeners)


def libs_dir() -> Path:
    return cache_dir() / f"kafka-{KAFKA_VERSION}" / "libs"


def install(quiet: bool = True) -> Path:
    """Resolve the broker's class path with Maven (once); return the directory of jars."""
    target = libs_dir()
    marker = target / ".complete"
    if marker.exists():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError("Maven (mvn) is needed once to fetch the Kafka jars from Maven Central; install it")
    tmp = target.with_name("libs.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [mvn, "-B", "-f", str(POM), "dependency:copy-dependencies",
           f"-DoutputDirectory={tmp}", "-DincludeScope=runtime"]
    if quiet:
        cmd.insert(1, "-q")
    done = subprocess.run(cmd, capture_output=quiet, text=True)
    if done.returncode != 0:
        detail = (done.stdout or "")[-2000:] if quiet else ""
        raise BrokerError(f"fetching Kafka {KAFKA_VERSION} jars with Maven failed:\n{detail}")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    marker.touch()
    return target


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise BrokerError("Java 17 or newer is needed to run the Kafka broker; none found on PATH or JAVA_HOME")
    return java


def _cluster_id(data_dir: Path) -> str:
    path = data_dir / "cluster.id"
    if not path.exists():
        path.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
    return path.read_text().strip()


def _write_config(cfg: BrokerConfig) -> Path:
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    extra = "".join(f",{lst.protocol}://{cfg.host}:{lst.port}" for lst in cfg.listeners)
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{cfg.host}:{cfg.controller_port}",
        "listeners": f"PLAINTEXT://{cfg.host}:{cfg.port},CONTROLLER://{cfg.host}:{cfg.controller_port}{extra}",
        "advertised.listeners": f"PLAINTEXT://{cfg.host}:{cfg.port}{extra}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
                                          + "".join(f",{lst.protocol}:{lst.protocol}" for lst in cfg.listeners),
        "log.dirs": str(cfg.data_dir / "logs"),
        "num.partitions": "1",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "min.insync.replicas": "1",
        "group.initial.rebalance.delay.ms": "0",
    }
    for lst in cfg.listeners:
        props.update(_listener_props(cfg, lst))
    path = cfg.data_dir / "server.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    log4j = cfg.data_dir / "log4j2.properties"
    log4j.write_text(
        "rootLogger.level = WARN\n"
        "rootLogger.appenderRef.stdout.ref = STDOUT\n"
        "appender.stdout.type = Console\n"
        "appender.stdout.name = STDOUT\n"
        "appender.stdout.layout.type = PatternLayout\n"
        "appender.stdout.layout.pattern = [%d] %p %m (%c)%n\n"
        "logger.kafka.name = kafka\nlogger.kafka.level = INFO\n"
        "logger.server.name = org.apache.kafka.server\nlogger.server.level = INFO\n"
    )
    return path


def _listener_props(cfg: BrokerConfig, lst: Listener) -> dict[str, str]:
    """Broker properties of one extra listener: its PEM keystore (TLS) and its SASL mechanisms and users."""
    prefix = f"listener.name.{lst.protocol.lower()}."
    props: dict[str, str] = {}
    if lst.protocol in ("SSL", "SASL_SSL"):
        if lst.certfile is None or lst.keyfile is None:
            raise BrokerError(f"the {lst.protocol} listener needs a PEM certificate and key")
        keystore = cfg.data_dir / f"{lst.protocol.lower()}-keystore.pem"
        keystore.write_text(Path(lst.keyfile).read_text() + Path(lst.certfile).read_text())
        keystore.chmod(0o600)
        props[prefix + "ssl.keystore.type"] = "PEM"
        props[prefix + "ssl.keystore.location"] = str(keystore)
    if lst.protocol.startswith("SASL_"):
        if not lst.mechanisms:
            raise BrokerError(f"the {lst.protocol} listener needs at least one SASL mechanism")
        props[prefix + "sasl.enabled.mechanisms"] = ",".join(lst.mechanisms)
        for mech in lst.mechanisms:
            if mech == "PLAIN":
                users = "".join(f' user_{name}="{password}"' for name, password in lst.users)
                module = f"org.apache.kafka.common.security.plain.PlainLoginModule required{users};"
            else:
                module = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            props[f"{prefix}{mech.lower()}.sasl.jaas.config"] = module
    return props


def _scram_args(cfg: BrokerConfig) -> list[str]:
    """`kafka-storage format` arguments adding the SCRAM users of the extra listeners."""
    args = []
    for lst in cfg.listeners:
        for mech in lst.mechanisms:
            if mech.startswith("SCRAM-"):
                args += [f"--add-scram={mech}=[name={name},password={password}]" for name, password in lst.users]
    return args


def _classpath() -> str:
    return str(libs_dir() / "*")


def read_pid(cfg: BrokerConfig) -> int | None:
    try:
        pid = int(cfg.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) else None


def answers(cfg: BrokerConfig, timeout: float = 2.0) -> bool:
    """True when the broker accepts a connection and returns cluster metadata."""
    try:
        with socket.create_connection((cfg.host, cfg.port), timeout=timeout):
            pass
    except OSError:
        return False
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=cfg.bootstrap, request_timeout_ms=int(timeout * 1000) + 1000,
                                 client_id="nkru-status")
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.describe_cluster()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def start(cfg: BrokerConfig, timeout: float = 90.0) -> int:
    """Start the broker in the background and return its pid once it answers; idempotent."""
    pid = read_pid(cfg)
    if pid is not None:
        if answers(cfg):
            return pid
        raise BrokerError(f"a broker process ({pid}) for {cfg.data_dir} exists but does not answer on "
                          f"{cfg.bootstrap}; see {cfg.log_file} or run `nkru kafka stop`")
    if _port_taken(cfg.host, cfg.port):
        raise BrokerError(f"port {cfg.port} on {cfg.host} is already in use by another program")
    install()
    props = _write_config(cfg)
    java = _java()
    log4j = f"-Dlog4j2.configurationFile={cfg.data_dir / 'log4j2.properties'}"
    fmt = subprocess.run(
        [java, log4j, "-cp", _classpath(), "kafka.tools.StorageTool", "format",
         # `=` form: a base64 cluster id may start with '-', which argparse would take for an option
         f"--cluster-id={_cluster_id(cfg.data_dir)}", "-c", str(props), "--ignore-formatted", *_scram_args(cfg)],
        capture_output=True, text=True)
    if fmt.returncode != 0:
        raise BrokerError(f"formatting Kafka storage in {cfg.data_dir} failed:\n{fmt.stdout}{fmt.stderr}")
    with open(cfg.log_file, "ab") as log:
        proc = subprocess.Popen(
            [java, f"-Xmx{cfg.heap}", f"-Xms{cfg.heap}", "-XX:+UseG1GC", log4j, "-cp", _classpath(),
             "kafka.Kafka", str(props)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    cfg.pid_file.write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BrokerError(f"the broker exited with code {proc.returncode} while starting:\n{_tail(cfg.log_file)}")
        if answers(cfg):
            return proc.pid
        time.sleep(0.25)
    proc.kill()
    raise BrokerError(f"the broker did not answer on {cfg.bootstrap} within {timeout:.0f}s:\n{_tail(cfg.log_file)}")


def stop(cfg: BrokerConfig, timeout: float = 30.0) -> bool:
    """Stop the broker by its pid (SIGTERM, then SIGKILL after `timeout`); False when none was running."""
    pid = read_pid(cfg)
    if pid is None:
        cfg.pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)
    cfg.pid_file.unlink(missing_ok=True)
    return True


def _port_taken(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
