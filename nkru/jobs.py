"""The long-running roles: `nkru process` (the streaming job) and `nkru run` (broker + connectors + job).

SIGINT/SIGTERM stop polling, cancel the job after its in-flight bundles, close clients, exit 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

import click

from connectors.kafka_io import KafkaAuthError, KafkaUnavailable
from nkru.settings import Settings
from pipeline.streaming import StreamingJob

log = logging.getLogger(__name__)


@contextmanager
def stop_on_signals(stop: threading.Event):
    """Set `stop` on SIGINT/SIGTERM while inside the block; restore the previous handlers after."""
    previous = {}

    def handler(signum, _frame):
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def start_job(settings: Settings, beam_args: list[str]) -> StreamingJob:
    try:
        return StreamingJob(settings, runner_args=beam_args).start()
    except KafkaUnavailable as exc:
        raise click.ClickException(kafka_problem(exc)) from None


def kafka_problem(exc: KafkaUnavailable) -> str:
    """What to tell the operator: a refused login or certificate names its settings; no broker, how to get one."""
    if isinstance(exc, KafkaAuthError):
        return str(exc)
    return f"{exc}; start one with `nkru kafka start` or pass --bootstrap"


def wait_until(stop: threading.Event, job: StreamingJob) -> None:
    """Block until a signal sets `stop` or the job ends by itself; then stop the job."""
    waiter = threading.Thread(target=_wait_job, args=(job, stop), daemon=True, name="job-waiter")
    waiter.start()
    # a timed wait: the main thread runs signal handlers only between waits, and a signal the kernel
    # delivers to another thread (gRPC's, Beam's) does not interrupt an untimed one
    while not stop.wait(timeout=0.5):
        pass
    job.stop()
    waiter.join(timeout=30)


def _wait_job(job: StreamingJob, stop: threading.Event) -> None:
    try:
        job.wait()
    except Exception:  # noqa: BLE001 - a failed job ends the process with the error logged
        if not (job.stopped.is_set() or stop.is_set()):  # a job failing while it is being stopped: stopped
            log.exception("the streaming job failed")
    finally:
        if not (job.stopped.is_set() or stop.is_set()):
            job.ended_by_itself = True
        stop.set()


def start_observability(settings: Settings, job: StreamingJob, stop: threading.Event, extra_checks=None):
    """Serve /healthz and /metrics and keep the consumer-lag gauge fresh, until `stop` is set."""
    from nkru.observability import serve_role_health, watch_lag
    from schemas.topics import RAW, topic

    checks = {"streaming_job": lambda: not job.ended_by_itself and not job.stopped.is_set()}
    checks.update(extra_checks or {})
    server = serve_role_health(settings.observability, checks)
    if server is None:
        return None
    threading.Thread(target=watch_lag, name="lag", daemon=True, args=(
        settings.kafka, settings.process.group_id, topic(RAW, settings.kafka.topic_prefix).name, stop)).start()
    return server


def run_process(settings: Settings, beam_args: list[str]) -> None:
    stop = threading.Event()
    with stop_on_signals(stop):
        job = start_job(settings, beam_args)
        server = start_observability(settings, job, stop)
        log.info("streaming job running on %s; Ctrl-C stops it", settings.process.runner)
        wait_until(stop, job)
        if server is not None:
            server.shutdown()
    if job.ended_by_itself:
        raise click.ClickException("the streaming job ended unexpectedly; see the log above")


def _ensure_broker(settings: Settings, local_kafka: bool):
    """Return the BrokerConfig of a broker started here, or None when one already answers."""
    from connectors import kafka_broker

    if settings.kafka.security_protocol != "PLAINTEXT":
        return None  # the local broker is plaintext only; a secured cluster is checked when the job starts
    host, _, port = settings.kafka.bootstrap_servers.split(",")[0].rpartition(":")
    cfg = kafka_broker.BrokerConfig(data_dir=settings.state_dir / "kafka", host=host or "127.0.0.1",
                                    port=int(port), controller_port=int(port) + 1)
    if kafka_broker.answers(cfg):
        return None
    if not local_kafka or cfg.host not in ("127.0.0.1", "localhost"):
        raise click.ClickException(f"no Kafka broker answers at {settings.kafka.bootstrap_servers}")
    click.echo(f"starting the local Kafka broker on {cfg.bootstrap} (data in {cfg.data_dir}) …", err=True)
    try:
        kafka_broker.start(cfg)
    except kafka_broker.BrokerError as exc:
        raise click.ClickException(str(exc)) from None
    return cfg


def run_all(settings: Settings, sample: bool, feeds, local_kafka: bool, as_json: bool) -> None:
    """Broker (if needed) + connectors + streaming job + alert printer, until Ctrl-C or SIGTERM."""
    import tempfile
    import time

    from connectors.feeds.poller import Poller
    from connectors.feeds.cli import registry_path
    from connectors.feeds.registry import load_registry
    from connectors.publisher import KafkaPublisher
    from nkru.sample import sample_registry, serve_sample
    from nkru.subscribe import AlertFilter, follow_alerts

    stop = threading.Event()
    started_broker = _ensure_broker(settings, local_kafka)
    server = observer = None
    workdir = None
    with stop_on_signals(stop):
        try:
            if sample:
                # a self-contained demo: fresh topics and feed state each run, so every run shows its alerts
                run_id = time.strftime("%Y%m%dT%H%M%S")
                workdir = tempfile.TemporaryDirectory(prefix="nkru-sample-")
                settings = settings.model_copy(update={
                    "state_dir": Path(workdir.name),
                    "kafka": settings.kafka.model_copy(update={"topic_prefix": f"sample-{run_id}."}),
                    "process": settings.process.model_copy(update={"group_id": f"nkru-sample-{run_id}"})})
                server, base_url = serve_sample()
                registry = sample_registry(base_url)
                click.echo(f"serving {len(registry.feeds)} sample feeds at {base_url}", err=True)
            else:
                registry = load_registry(registry_path(settings, feeds))
            job = start_job(settings, [])
            publisher = KafkaPublisher.from_settings(settings)
            observer = start_observability(settings, job, stop, {"kafka_publisher": publisher.health})
            poller = Poller(registry, settings, publisher)
            poll_thread = threading.Thread(target=poller.run_forever, args=(stop,), name="poller", daemon=True)
            poll_thread.start()
            click.echo("pipeline running; alerts follow (Ctrl-C stops)", err=True)
            printer = threading.Thread(target=follow_alerts, name="alerts", daemon=True, kwargs=dict(
                settings=settings, filt=AlertFilter(), from_beginning=True, as_json=as_json, stop=stop))
            printer.start()
            wait_until(stop, job)
            poll_thread.join(timeout=30)
            poller.close()
            publisher.close()
            printer.join(timeout=5)
        finally:
            if server is not None:
                server.shutdown()
            if observer is not None:
                observer.shutdown()
            if started_broker is not None:
                from connectors import kafka_broker

                kafka_broker.stop(started_broker)
            if workdir is not None:
                workdir.cleanup()
    click.echo("stopped", err=True)
