"""Progress of a running replay: a tqdm bar over the input bytes read (rate, ETA), fed by polling the Beam
job's metrics while it runs, and a one-line summary at the end. Shown only on a terminal unless asked.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
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
        elapsed = max(time.monotonic() - self.started, 1e-9)
        items = items_read(counters)
        return (f"files {counters.get('source.files_read', 0)}/{self.total_files}, items {items} "
                f"({items / elapsed:,.0f}/s), articles {counters.get('replay.into_graph', 0)}")

    def finish(self, counters: dict[str, int], line: str) -> None:
        """Close the bar at its final state and print `line` (the summary) under it."""
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
