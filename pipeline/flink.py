"""Beam's portable Flink runner, locally: the job server's class path (Maven Central, cached), a job server
process (embedded Flink, or submitting to a given Flink master) and the options that submit a pipeline to it.

Maven Central serves no shaded ``beam-runners-flink-1.19-job-server`` jar, so ``pipeline/maven/flink/pom.xml``
resolves the non-shaded runner and its dependencies once into ``<cache>/flink-job-server-<beam>/libs``; the
job server is ``java -cp 'libs/*' org.apache.beam.runners.flink.FlinkJobServerDriver``. Pipelines are
submitted with ``--runner=PortableRunner --job_endpoint=…``; nothing is downloaded at run time.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import apache_beam

from nkru.paths import cache_dir, state_dir
from nkru.procs import alive as _alive

BEAM_VERSION = apache_beam.__version__
FLINK_VERSION = "1.19"
POM = Path(__file__).parent / "maven" / "flink" / "pom.xml"
MAIN_CLASS = "org.apache.beam.runners.flink.FlinkJobServerDriver"
SUPPORTED_JAVA = (11, 17)  # what Flink 1.19 supports
# What Flink's own scripts pass to a Java 17 JVM (env.java.opts.all), so Kryo and the RPC layer may reflect.
JAVA_17_OPTS = [
    *(f"--add-exports={m}=ALL-UNNAMED" for m in (
        "java.base/sun.net.util", "java.rmi/sun.rmi.registry", "java.security.jgss/sun.security.krb5")),
    *(f"--add-opens=java.base/{p}=ALL-UNNAMED" for p in (
        "java.lang", "java.net", "java.io", "java.nio", "sun.nio.ch", "java.lang.reflect", "java.text",
        "java.time", "java.util", "java.util.concurrent", "java.util.concurrent.atomic",
        "java.util.concurrent.locks")),
]
CHECKPOINT_INTERVAL_MS = 10_000  # a streaming job's default
_STARTED = re.compile(r"(JobService|ArtifactStagingService) started on ([\w.\-]+):(\d+)")


class FlinkError(RuntimeError):
    """The Flink job server could not be installed, started or reached; the message says why."""


# ------------------------------------------------------------------ install

def libs_dir() -> Path:
    return cache_dir() / f"flink-job-server-{BEAM_VERSION}" / "libs"


def _pom_beam_version() -> str:
    match = re.search(r"<beam\.version>([^<]+)</beam\.version>", POM.read_text())
    return match.group(1) if match else "?"


def install(quiet: bool = True) -> Path:
    """Resolve the job server's class path with Maven (once); return the directory of jars."""
    target = libs_dir()
    if (target / ".complete").exists():
        return target
    if _pom_beam_version() != BEAM_VERSION:
        raise FlinkError(f"{POM} pins Beam {_pom_beam_version()} but the Python SDK is {BEAM_VERSION}: "
                         "the job server and the SDK must be the same Beam version")
    mvn = shutil.which("mvn")
    if mvn is None:
        raise FlinkError("Maven (mvn) is needed once to fetch Beam's Flink runner jars from Maven Central; install it")
    tmp = target.with_name("libs.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [mvn, "-B", "-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={tmp}",
           "-DincludeScope=runtime"]
    if quiet:
        cmd.insert(1, "-q")
    done = subprocess.run(cmd, check=False, capture_output=quiet, text=True)
    runner_jar = tmp / f"beam-runners-flink-{FLINK_VERSION}-{BEAM_VERSION}.jar"
    if done.returncode != 0 or not runner_jar.exists():
        detail = ((done.stdout or "") + (done.stderr or ""))[-3000:] if quiet else ""
        raise FlinkError(f"fetching beam-runners-flink-{FLINK_VERSION}:{BEAM_VERSION} and its dependencies with "
                         f"Maven failed (exit {done.returncode}):\n{detail}")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    (target / ".complete").touch()
    return target


def find_java() -> str:
    """A Java 11 or 17 (Flink 1.19's): NKRU_FLINK_JAVA, JAVA_HOME, PATH, then /usr/lib/jvm."""
    candidates = [os.environ.get("NKRU_FLINK_JAVA"),
                  os.environ.get("JAVA_HOME") and str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"),
                  shutil.which("java"),
                  *sorted(str(p) for p in Path("/usr/lib/jvm").glob("*/bin/java"))]
    seen = []
    for java in filter(None, candidates):
        version = _java_major(java)
        if version in SUPPORTED_JAVA:
            return java
        seen.append(f"{java} ({version or 'unusable'})")
    raise FlinkError("Flink 1.19 needs Java 11 or 17; found " + (", ".join(seen) or "no java") +
                     ". Install openjdk-17 or point NKRU_FLINK_JAVA at a Java 17 `java`.")


def _java_major(java: str) -> int | None:
    try:
        out = subprocess.run([java, "-version"], check=False, capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


# ------------------------------------------------------------------ the job server

@dataclass(frozen=True)
class JobServerConfig:
    """Where a job server keeps its pid, log, endpoint and staged artifacts, and what it submits to."""

    work_dir: Path
    flink_master: str = "[local]"  # embedded Flink; or host:port of a Flink cluster's REST endpoint
    job_port: int = 0  # 0: any free port, read back from the log
    artifact_port: int = 0
    heap: str = "1g"
    flink_conf_dir: Path | None = None
    die_with_parent: bool = False  # a private server: the kernel stops it if the process that started it dies

    @property
    def pid_file(self) -> Path:
        return self.work_dir / "job-server.pid"

    @property
    def log_file(self) -> Path:
        return self.work_dir / "job-server.log"

    @property
    def endpoint_file(self) -> Path:
        return self.work_dir / "job-server.endpoint"


def default_config(**overrides) -> JobServerConfig:
    return JobServerConfig(work_dir=state_dir() / "flink-job-server", **overrides)


@dataclass(frozen=True)
class JobServer:
    pid: int
    endpoint: str  # host:port of the job service
    config: JobServerConfig


def _command(cfg: JobServerConfig, java: str) -> list[str]:
    cmd = [java, f"-Xmx{cfg.heap}", "-XX:+UseG1GC", *JAVA_17_OPTS,
           # INFO only where the bound ports and the submitted jobs are logged; the rest at WARN
           "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
           "-Dorg.slf4j.simpleLogger.log.org.apache.beam.runners.jobsubmission.JobServerDriver=info",
           "-Dorg.slf4j.simpleLogger.log.org.apache.beam.runners.flink.FlinkJobInvoker=info",
           # it logs the whole SDK environment (hundreds of lines) on every harness release at WARN
           "-Dorg.slf4j.simpleLogger.log.org.apache.beam.runners.fnexecution.control.DefaultJobBundleFactory=error",
           # one line per operator whose (Beam-made) name is over 80 characters
           "-Dorg.slf4j.simpleLogger.log.org.apache.flink.metrics.MetricGroup=error",
           "-Dorg.slf4j.simpleLogger.showDateTime=true", "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss.SSS",
           "-cp", str(libs_dir() / "*"), MAIN_CLASS,
           "--job-host=localhost", f"--job-port={cfg.job_port}", f"--artifact-port={cfg.artifact_port}",
           "--expansion-port=-1",  # no Java expansion service: the graph has no cross-language transforms
           f"--artifacts-dir={cfg.work_dir / 'artifacts'}", f"--flink-master={cfg.flink_master}"]
    if cfg.flink_conf_dir is not None:
        cmd.append(f"--flink-conf-dir={cfg.flink_conf_dir}")
    return cmd


def start(cfg: JobServerConfig, timeout: float = 120.0) -> JobServer:
    """Start a job server in the background; return once its job service accepts connections. Idempotent."""
    running = status(cfg)
    if running is not None:
        return running
    install()
    java = find_java()
    cfg.work_dir.mkdir(parents=True, exist_ok=True)
    cfg.endpoint_file.unlink(missing_ok=True)
    offset = cfg.log_file.stat().st_size if cfg.log_file.exists() else 0
    with open(cfg.log_file, "ab") as log:
        proc = subprocess.Popen(_command(cfg, java), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                # only a prctl call, resolved beforehand: no lock is taken between fork and exec
                                preexec_fn=_parent_death_signal() if cfg.die_with_parent else None)  # noqa: PLW1509
    cfg.pid_file.write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            cfg.pid_file.unlink(missing_ok=True)
            raise FlinkError(f"the Flink job server exited with code {proc.returncode} while starting:\n"
                             f"{_tail(cfg.log_file, offset)}")
        endpoint = _endpoint_from_log(cfg.log_file, offset)
        if endpoint and _answers(endpoint):
            cfg.endpoint_file.write_text(endpoint)
            return JobServer(pid=proc.pid, endpoint=endpoint, config=cfg)
        time.sleep(0.2)
    _kill(proc.pid)
    cfg.pid_file.unlink(missing_ok=True)
    raise FlinkError(f"the Flink job server did not start within {timeout:.0f}s:\n{_tail(cfg.log_file, offset)}")


def _parent_death_signal():
    """A pre-exec hook asking the kernel to SIGTERM the child when its parent dies (Linux PR_SET_PDEATHSIG).

    prctl is looked up here, in the parent, so that the child only makes the call between fork and exec."""
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    return lambda: prctl(1, int(signal.SIGTERM))


def _endpoint_from_log(log_file: Path, offset: int) -> str | None:
    with open(log_file, "rb") as fh:
        fh.seek(offset)
        text = fh.read().decode("utf-8", errors="replace")
    found = {m.group(1): f"{m.group(2)}:{m.group(3)}" for m in _STARTED.finditer(text)}
    return found.get("JobService")


def _answers(endpoint: str, timeout: float = 5.0) -> bool:
    """True when the job service answers a gRPC call (GetJobs)."""
    import grpc
    from apache_beam.portability.api import beam_job_api_pb2, beam_job_api_pb2_grpc

    with grpc.insecure_channel(endpoint) as channel:
        try:
            beam_job_api_pb2_grpc.JobServiceStub(channel).GetJobs(beam_job_api_pb2.GetJobsRequest(), timeout=timeout)
            return True
        except grpc.RpcError:
            return False


def status(cfg: JobServerConfig) -> JobServer | None:
    """The job server running for `cfg.work_dir` (alive and answering), else None."""
    try:
        pid = int(cfg.pid_file.read_text().strip())
        endpoint = cfg.endpoint_file.read_text().strip()
    except (FileNotFoundError, ValueError):
        return None
    if not _alive(pid) or not _answers(endpoint):
        return None
    return JobServer(pid=pid, endpoint=endpoint, config=cfg)


def stop(cfg: JobServerConfig, timeout: float = 30.0) -> bool:
    """Stop the job server of `cfg.work_dir` (SIGTERM, SIGKILL after `timeout`); False when none ran."""
    try:
        pid = int(cfg.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return False
    stopped = _alive(pid)
    if stopped:
        _kill(pid, timeout)
    cfg.pid_file.unlink(missing_ok=True)
    cfg.endpoint_file.unlink(missing_ok=True)
    return stopped


def _kill(pid: int, timeout: float = 30.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)


def _tail(path: Path, offset: int = 0, lines: int = 40) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


# ------------------------------------------------------------------ pipeline options

def pipeline_args(endpoint: str, streaming: bool = False, parallelism: int | None = None,
                  checkpointing_interval_ms: int | None = CHECKPOINT_INTERVAL_MS, environment: str = "LOOPBACK",
                  extra: list[str] | None = None) -> list[str]:
    """Beam args submitting to the job server at `endpoint`; an option also given in `extra` is left to it.

    LOOPBACK runs the Python SDK harness inside the submitting process (local runs only); a cluster runs it
    beside each TaskManager ("EXTERNAL", see docs/deploy.md). The SDK harness is kept for a minute between
    stages instead of being restarted for each. A streaming job is checkpointed every
    `checkpointing_interval_ms` (None: never): Flink finalizes bundles, so the Kafka source commits offsets,
    only when a checkpoint completes; a job over bounded input with checkpoints never finishes.
    """
    extra = list(extra or [])
    given = {a.split("=", 1)[0] for a in extra if a.startswith("--")}
    wanted = {"--environment_type": environment, "--environment_cache_millis": 60_000, "--parallelism": parallelism}
    if streaming:
        wanted["--checkpointing_interval"] = checkpointing_interval_ms
    args = ["--runner=PortableRunner", f"--job_endpoint={endpoint}"]
    args += [f"{flag}={value}" for flag, value in wanted.items() if value is not None and flag not in given]
    if streaming:
        args.append("--streaming")
    return [*args, *extra]


_OWN: list[JobServerConfig] = []


def ensure_job_server() -> str:
    """The endpoint to submit to: NKRU_FLINK_ENDPOINT, else the default job server if it runs, else a private
    embedded one started now and stopped when this process exits."""
    given = os.environ.get("NKRU_FLINK_ENDPOINT")
    if given:
        if not _answers(given):
            raise FlinkError(f"NKRU_FLINK_ENDPOINT={given} names no answering Beam job service")
        return given
    running = status(default_config())
    if running is not None:
        return running.endpoint
    if not _OWN:
        _OWN.append(JobServerConfig(work_dir=Path(tempfile.mkdtemp(prefix="nkru-flink-")), die_with_parent=True))
        atexit.register(_stop_own)
    return start(_OWN[0]).endpoint


def _stop_own() -> None:
    for cfg in _OWN:
        stop(cfg)
        shutil.rmtree(cfg.work_dir, ignore_errors=True)


def runner_args(streaming: bool = False, extra: list[str] | None = None) -> list[str]:
    """What `runner_options("flink", …)` passes to Beam."""
    return pipeline_args(ensure_job_server(), streaming=streaming, extra=extra)


# ------------------------------------------------------------------ command line

def main(argv: list[str] | None = None) -> int:
    """`python -m pipeline.flink install | start [FLINK_MASTER] | stop | status`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    action = argv[0] if argv else "status"
    try:
        if action == "install":
            print(f"flink job server class path: {install(quiet=False)}")
        elif action == "start":
            server = start(default_config(flink_master=argv[1] if len(argv) > 1 else "[local]"))
            print(f"flink job server running: pid {server.pid}, endpoint {server.endpoint}, "
                  f"log {server.config.log_file}")
        elif action == "stop":
            print("flink job server stopped" if stop(default_config()) else "no flink job server running")
        elif action == "status":
            server = status(default_config())
            print(f"running: pid {server.pid}, endpoint {server.endpoint}" if server else "not running")
            return 0 if server else 1
        else:
            print(main.__doc__, file=sys.stderr)
            return 2
    except FlinkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
