"""The progress bar is fed from the job's live counters while the job runs (a stand-in job service that
answers like Prism: finished bundles committed, the running bundle's latest report attempted)."""

from __future__ import annotations

import io
import threading

from apache_beam.metrics.monitoring_infos import int64_user_counter
from apache_beam.portability.api import beam_job_api_pb2

from pipeline.replay_progress import ReplayProgress, follow, live_counters, show_progress

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


def test_the_bar_moves_while_the_job_runs_and_never_goes_back():
    service = _JobService([(10, 0), (40, 0), (5, 50), (0, 90), (0, 100)])
    stream = io.StringIO()
    progress = ReplayProgress(total_bytes=100, total_files=3, enabled=True, stream=stream)
    seen: list[int] = []

    def update(counters):
        progress.update(counters)
        seen.append(progress.bar.n)

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
