"""The long-running roles: `nkru process` (the streaming job) and `nkru run` (broker + connectors + job).

SIGINT/SIGTERM stop polling, cancel the job after its in-flight bundles, close clients, exit 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import contextmanager

import click

from connectors.kafka_io import KafkaUnavailable
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
        raise click.ClickException(f"{exc}; start one with `nkru kafka start` or pass --bootstrap") from None


def wait_until(stop: threading.Event, job: StreamingJob) -> None:
    """Block until a signal sets `stop` or the job ends by itself; then stop the job."""
    waiter = threading.Thread(target=_wait_job, args=(job, stop), daemon=True, name="job-waiter")
    waiter.start()
    stop.wait()
    job.stop()
    waiter.join(timeout=30)


def _wait_job(job: StreamingJob, stop: threading.Event) -> None:
    try:
        job.wait()
    except Exception:  # noqa: BLE001 - a failed job ends the process with the error logged
        if not job.stopped.is_set():
            log.exception("the streaming job failed")
    finally:
        if not job.stopped.is_set():
            job.ended_by_itself = True
        stop.set()


def run_process(settings: Settings, beam_args: list[str]) -> None:
    stop = threading.Event()
    with stop_on_signals(stop):
        job = start_job(settings, beam_args)
        log.info("streaming job running on %s; Ctrl-C stops it", settings.process.runner)
        wait_until(stop, job)
    if job.ended_by_itself:
        raise click.ClickException("the streaming job ended unexpectedly; see the log above")
