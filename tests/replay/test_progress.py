"""The progress bar is fed from the job's live counters while the job runs (a stand-in job service that
answers like Prism: finished bundles committed, the running bundle's latest report attempted)."""

from __future__ import annotations

import io
import os
import threading

import pytest
from apache_beam.metrics.monitoring_infos import int64_user_counter
from apache_beam.portability.api import beam_job_api_pb2

from pipeline.replay_progress import (
    PROGRESS_DIR_ENV,
    ReplayProgress,
    counts_file,
    follow,
    live_counters,
    run_blocking,
    show_progress,
)

DEADLINE = 30.0


class _JobService:
    """Answers GetJobMetrics from a script of (attempted, committed) byte counts; the job ends after the script."""

    def __init__(self, script):
        self.script = list(script)
        self.calls = 0
        self.done = threading.Event()

    def GetJobMetrics(self, request):
        attempted, committed = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if self.calls >= len(self.script):
            self.done.set()
        metrics = beam_job_api_pb2.MetricResults(
            attempted=[int64_user_counter("source", "bytes", attempted), int64_user_counter("beam", "x", 5)],
            committed=[int64_user_counter("source", "bytes", committed)])
        return beam_job_api_pb2.GetJobMetricsResponse(metrics=metrics)


class _Result:
    def __init__(self, service):
        self._job_service = service
        self._job_id = "job-1"

    def wait_until_finish(self):
        if not self._job_service.done.wait(DEADLINE):
            raise TimeoutError("the progress loop never asked for metrics")
        return "DONE"


def test_live_counters_never_count_a_bundle_twice():
    # Prism: committed = finished bundles, attempted = the latest progress report of one bundle
    assert live_counters(_Result(_JobService([(30, 100)]))) == {"source.bytes": 100}
    assert live_counters(_Result(_JobService([(30, 0)]))) == {"source.bytes": 30}


def _recording(progress, then=lambda counters: None):
    """An `on_counters` that updates the bar, records where it stands, then calls `then`; and the record."""
    seen: list[int] = []

    def update(counters):
        progress.update(counters)
        seen.append(progress.bar.n)
        then(counters)

    return update, seen


def test_the_bar_moves_while_the_job_runs_and_never_goes_back():
    service = _JobService([(10, 0), (40, 0), (5, 50), (0, 90), (0, 100)])
    stream = io.StringIO()
    progress = ReplayProgress(total_bytes=100, total_files=3, enabled=True, stream=stream)
    update, seen = _recording(progress)
    follow(_Result(service), update, enabled=True, interval=0.01)
    assert service.calls >= 5  # asked while the job ran, until it ended
    assert seen[:5] == [10, 40, 50, 90, 100] and seen == sorted(seen)
    progress.finish({"source.bytes": 100}, "replayed 3 files")
    text = stream.getvalue()
    assert "100%" in text and text.rstrip().endswith("replayed 3 files")


def test_no_bar_unless_on_a_terminal_or_asked():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert show_progress(None, io.StringIO()) is False
    assert show_progress(None, Tty()) is True
    assert show_progress(True, io.StringIO()) is True
    stream = io.StringIO()
    progress = ReplayProgress(total_bytes=100, total_files=1, enabled=False, stream=stream)
    progress.update({"source.bytes": 50})
    progress.finish({"source.bytes": 100}, "done")
    assert stream.getvalue() == ""


class _BlockingPipeline:
    """Stands for the direct runner: `run()` returns only when the job is done. Its 'worker' writes its read
    bytes into a counts file step by step and goes on only once the progress loop has seen each step."""

    def __init__(self, steps):
        self.steps = steps
        self.seen = threading.Condition()
        self.latest = 0

    def saw(self, counters):
        with self.seen:
            self.latest = counters.get("source.bytes", 0)
            self.seen.notify_all()

    def run(self):
        counts = counts_file()
        assert counts is not None, "the worker was not told where to write its counts"
        for total in self.steps:
            counts.add("source.bytes", total - counts.totals.get("source.bytes", 0))
            counts.flush()
            with self.seen:
                if not self.seen.wait_for(lambda total=total: self.latest >= total, DEADLINE):
                    raise TimeoutError(f"the progress loop never saw {total} bytes")
        return self

    def wait_until_finish(self):
        return "DONE"


def test_a_runner_without_live_metrics_shows_progress_from_its_workers_counts_files():
    pipeline = _BlockingPipeline([20, 50, 100])
    stream = io.StringIO()
    progress = ReplayProgress(total_bytes=100, total_files=1, enabled=True, stream=stream)
    update, bars = _recording(progress, then=pipeline.saw)
    assert run_blocking(pipeline, update, enabled=True, interval=0.01) is pipeline
    assert {20, 50, 100} <= set(bars) and bars == sorted(bars)
    progress.update({"source.bytes": 100, "source.files_read": 1})
    assert "input read, the graph is finishing" in stream.getvalue()  # the bar at 100 % while the graph works
    progress.finish({"source.bytes": 100, "source.files_read": 1}, "replayed 1 files")
    assert stream.getvalue().rstrip().endswith("replayed 1 files")
    assert PROGRESS_DIR_ENV not in os.environ  # put back as it was


def test_a_failed_blocking_run_raises_in_the_caller():
    class Failing(_BlockingPipeline):
        def run(self):
            raise RuntimeError("worker died")

    with pytest.raises(RuntimeError, match="worker died"):
        run_blocking(Failing([]), lambda counters: None, enabled=False, interval=0.01)
