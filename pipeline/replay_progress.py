"""Progress of a running replay: a tqdm bar over the input bytes read (rate, ETA), fed by polling the Beam
job's metrics while it runs (Prism, Flink) or, for the direct runner, which reports metrics only at the end,
by the counts files its readers write (`CountsFile`); and a one-line summary at the end. Shown only on a
terminal unless asked.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from tqdm import tqdm

POLL_SECONDS = 1.0


def show_progress(asked: bool | None, stream: IO | None = None) -> bool:
    """`asked` when given, else whether the stream (stderr) is a terminal."""
    if asked is not None:
        return asked
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


class ReplayProgress:
    """A bar over `total_bytes` of input; `update(counters)` takes the job's counters ('source.bytes', …)."""

    def __init__(self, total_bytes: int, total_files: int, enabled: bool, stream: IO | None = None,
                 desc: str = "replay"):
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.total_files = total_files
        self.started = time.monotonic()
        self.read_at: float | None = None  # when every input file had been read
        self.finished = False
        self.seen: dict[str, int] = {}
        self.bar = tqdm(total=total_bytes, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                        file=self.stream, disable=not enabled, mininterval=POLL_SECONDS, dynamic_ncols=True,
                        smoothing=0.1)

    def update(self, counters: dict[str, int]) -> None:
        if not self.enabled:
            return
        for name, value in counters.items():  # live values can dip while bundles are retried or split
            self.seen[name] = max(value, self.seen.get(name, 0))
        counters = self.seen
        done = min(counters.get("source.bytes", 0), self.bar.total)
        self.bar.set_postfix_str(self._postfix(counters), refresh=False)
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)
        else:
            self.bar.refresh()

    def _postfix(self, counters: dict[str, int]) -> str:
        files = counters.get("source.files_read", 0)
        if files >= self.total_files and self.read_at is None:
            self.read_at = time.monotonic()  # the rate is the reading rate; it stops when the input is read
        elapsed = max((self.read_at or time.monotonic()) - self.started, 1e-9)
        items = items_read(counters)
        line = f"files {files}/{self.total_files}, items {items} ({items / elapsed:,.0f}/s)"
        if "replay.into_graph" in counters:  # not known while the direct runner runs
            line += f", articles {counters['replay.into_graph']}"
        if self.read_at is not None and not self.finished:
            line += "; input read, the graph is finishing"
        return line

    def finish(self, counters: dict[str, int], line: str) -> None:
        """Close the bar at its final state and print `line` (the summary) under it."""
        self.finished = True
        self.update(counters)
        self.bar.close()
        if self.enabled:
            print(line, file=self.stream, flush=True)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def items_read(counters: dict[str, int]) -> int:
    """Entries of feed documents and exports, JSONL lines and WARC pages read so far."""
    return sum(counters.get(f"source.{name}", 0) for name in ("entries", "lines", "pages"))


def live_counters(result, namespaces=("source", "replay", "extract")) -> dict[str, int]:
    """The job's user counters now ('namespace.name' → value); {} when the runner gives none (yet).

    `PipelineResult.metrics()` caches its first answer, so the job service is asked directly, and only the
    user counters of `namespaces` are decoded (cheap enough to ask every second). Prism reports the finished
    bundles as committed and the latest progress report of some bundle as attempted (which may be one that has
    finished since): their max never counts a bundle twice, at the price of lagging by the running bundles.
    """
    try:
        from apache_beam.metrics.monitoring_infos import USER_COUNTER_URN, extract_counter_value
        from apache_beam.portability.api import beam_job_api_pb2

        response = result._job_service.GetJobMetrics(beam_job_api_pb2.GetJobMetricsRequest(job_id=result._job_id))
    except Exception:  # noqa: BLE001 - progress is best effort; the final metrics come from the result
        return {}
    views = []
    for infos in (response.metrics.attempted, response.metrics.committed):
        view: dict[str, int] = {}
        for info in infos:
            if info.urn == USER_COUNTER_URN and info.labels.get("NAMESPACE") in namespaces:
                name = f"{info.labels['NAMESPACE']}.{info.labels['NAME']}"
                view[name] = view.get(name, 0) + extract_counter_value(info)
        views.append(view)
    attempted, committed = views
    return {k: max(attempted.get(k, 0), committed.get(k, 0)) for k in attempted.keys() | committed.keys()}


def counter_totals(counters, prefer_committed: bool = False) -> dict[str, int]:
    """User counters by 'namespace.name', summed over steps; the runner's own (timings, indexes) left out."""
    totals: dict[str, int] = {}
    for counter in counters:
        name = f"{counter.key.metric.namespace}.{counter.key.metric.name}"
        if name.startswith("beam.metric:"):
            continue
        value = (counter.committed or counter.attempted) if prefer_committed else (
            counter.attempted or counter.committed)
        totals[name] = totals.get(name, 0) + (value or 0)
    return totals


PROGRESS_DIR_ENV = "NKRU_PROGRESS_DIR"
FLUSH_SECONDS = 0.5


class CountsFile:
    """One worker's running totals ('namespace.name' → n), rewritten atomically into a directory at most every
    `FLUSH_SECONDS` and on `flush()`: the progress of a runner that reports no metrics while it runs (the
    direct runner reads in worker processes and returns only when the job is done). A retried bundle may be
    counted twice here; the bar never passes its total, and the summary uses the runner's final metrics."""

    def __init__(self, directory: str | os.PathLike):
        self.path = Path(directory) / f"{os.getpid()}-{id(self):x}.json"
        self.totals: dict[str, int] = {}
        self.written = 0.0

    def add(self, name: str, n: int) -> None:
        self.totals[name] = self.totals.get(name, 0) + n
        if time.monotonic() - self.written >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if not self.totals:
            return
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.totals), encoding="utf-8")
        os.replace(temporary, self.path)
        self.written = time.monotonic()


def counts_file() -> CountsFile | None:
    """A `CountsFile` in the directory the replay named ($NKRU_PROGRESS_DIR), if it named one."""
    directory = os.environ.get(PROGRESS_DIR_ENV)
    return CountsFile(directory) if directory and os.path.isdir(directory) else None


def read_counts(directory: str | os.PathLike) -> dict[str, int]:
    """The sum of every worker's `CountsFile` in `directory` (files being replaced are skipped this time)."""
    totals: dict[str, int] = {}
    for path in Path(directory).glob("*.json"):
        try:
            counts = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for name, value in counts.items():
            totals[name] = totals.get(name, 0) + value
    return totals


def run_blocking(pipeline, on_counters: Callable[[dict[str, int]], None], enabled: bool,
                 interval: float = POLL_SECONDS):
    """Run a pipeline whose runner returns only when the job is done (the direct runner) in a thread; meanwhile
    (when `enabled`) hand the workers' counts files to `on_counters`. Returns the finished job's result and
    raises what the run raised."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            result = pipeline.run()
            result.wait_until_finish()
            outcome["result"] = result
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = exc

    with tempfile.TemporaryDirectory(prefix="nkru-progress-") as directory:
        previous = os.environ.get(PROGRESS_DIR_ENV)
        if enabled:
            os.environ[PROGRESS_DIR_ENV] = directory  # the worker processes inherit it when the run starts them
        try:
            runner = threading.Thread(target=run, name="replay-run", daemon=True)
            runner.start()
            while runner.is_alive():
                runner.join(interval)
                if enabled:
                    on_counters(read_counts(directory))
        finally:
            if previous is None:
                os.environ.pop(PROGRESS_DIR_ENV, None)
            else:
                os.environ[PROGRESS_DIR_ENV] = previous
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]


def follow(result, on_counters: Callable[[dict[str, int]], None], enabled: bool,
           interval: float = POLL_SECONDS) -> None:
    """Wait for the job to finish; meanwhile (when `enabled`) hand its live counters to `on_counters`.

    Raises what `wait_until_finish` raises when the job fails.
    """
    if not enabled:
        result.wait_until_finish()
        return
    failure: list[BaseException] = []

    def wait() -> None:
        try:
            result.wait_until_finish()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(exc)

    waiter = threading.Thread(target=wait, name="replay-wait", daemon=True)
    waiter.start()
    while waiter.is_alive():
        waiter.join(interval)
        on_counters(live_counters(result))
    if failure:
        raise failure[0]
