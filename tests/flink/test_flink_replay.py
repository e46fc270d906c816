"""The replay graph on Apache Flink (Beam's portable runner, embedded Flink 1.19 in a job server assembled from
Maven Central) writes the same events and alerts as on Prism, in Flink's batch and in its streaming mode.

Nothing here skips: when the job server cannot be installed or started, the tests fail and say why.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from nkru.settings import layout_for
from pipeline import flink
from pipeline.graph import GraphConfig
from pipeline.replay import run_replay

pytestmark = pytest.mark.runner

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "platform" / "articles.jsonl"
COMPARED = ("events", "alerts", "articles", "dead_letters")
HARNESS_CACHE_MS = 5_000  # SDK workers are reused across a job's stages, and released soon after it ends


class LazyJobServer:
    """One embedded-Flink job server for the module, started by the first test that needs it."""

    def __init__(self, work_dir: Path):
        self.config = flink.JobServerConfig(work_dir=work_dir, die_with_parent=True)
        self.server: flink.JobServer | None = None
        self.error: str | None = None

    def endpoint(self) -> str:
        if self.server is None and self.error is None:
            try:
                flink.install()
                self.server = flink.start(self.config, timeout=180)
            except flink.FlinkError as exc:
                self.error = str(exc)
        if self.error is not None:
            pytest.fail(f"the Flink job server could not be installed or started: {self.error}")
        assert self.server is not None
        return self.server.endpoint

    def stop(self) -> None:
        """Stop the server once it has released the SDK harnesses it ran in this process (LOOPBACK): a harness
        whose job server disappears under it dies with a traceback in its thread."""
        deadline = time.monotonic() + HARNESS_CACHE_MS / 1000 + 30
        while _harness_threads() and time.monotonic() < deadline:
            time.sleep(0.2)
        flink.stop(self.config)


def _harness_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("run_worker") and t.is_alive()]


@pytest.fixture(scope="module")
def job_server(tmp_path_factory):
    lazy = LazyJobServer(tmp_path_factory.mktemp("flink-job-server"))
    yield lazy
    lazy.stop()
    assert flink.status(lazy.config) is None


@pytest.fixture(scope="module")
def on_prism(tmp_path_factory, prism_binary) -> Path:
    out = tmp_path_factory.mktemp("prism")
    # the layout `nkru replay --runner prism` picks (one key per fold), against Flink's sharded one
    run_replay([FIXTURE], out, GraphConfig(layout=layout_for("auto", "prism")), runner="prism")
    return out


def _replay_on_flink(job_server: LazyJobServer, out: Path, streaming: bool) -> dict:
    args = flink.pipeline_args(job_server.endpoint(), streaming=streaming, parallelism=2,
                               checkpointing_interval_ms=None,
                               extra=[f"--environment_cache_millis={HARNESS_CACHE_MS}"])
    return run_replay([FIXTURE], out, runner="PortableRunner", runner_args=args)


def _assert_same_outputs(flink_out: Path, prism_out: Path) -> None:
    for name in COMPARED:
        ours = (flink_out / f"{name}.jsonl").read_text(encoding="utf-8")
        theirs = (prism_out / f"{name}.jsonl").read_text(encoding="utf-8")
        assert ours == theirs, f"{name}.jsonl differs between Flink and Prism"
    # the comparison is not vacuous: the fixture gives events and alerts
    assert (flink_out / "events.jsonl").read_text().count("\n") > 0
    assert (flink_out / "alerts.jsonl").read_text().count("\n") > 0


def test_batch_replay_on_flink_equals_prism(job_server, on_prism, tmp_path):
    summary = _replay_on_flink(job_server, tmp_path, streaming=False)
    _assert_same_outputs(tmp_path, on_prism)
    assert summary["outputs"]["events"] > 0 and summary["outputs"]["alerts"] > 0


def test_streaming_mode_replay_on_flink_equals_prism(job_server, on_prism, tmp_path):
    """Flink's streaming translation: keyed state in the state backend, timers fired by watermarks."""
    _replay_on_flink(job_server, tmp_path, streaming=True)
    _assert_same_outputs(tmp_path, on_prism)


def test_a_job_server_that_cannot_start_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = flink.JobServerConfig(work_dir=tmp_path, job_port=port, die_with_parent=True)
        with pytest.raises(flink.FlinkError, match="exited with code") as raised:
            flink.start(cfg, timeout=120)
    assert "Address already in use" in str(raised.value) or "BindException" in str(raised.value)
    assert flink.status(cfg) is None


def test_arguments_submit_to_the_job_server_without_a_download():
    args = flink.pipeline_args("localhost:8099", streaming=True, extra=["--parallelism=4"])
    assert "--runner=PortableRunner" in args and "--job_endpoint=localhost:8099" in args
    assert "--environment_type=LOOPBACK" in args and "--streaming" in args
    assert f"--checkpointing_interval={flink.CHECKPOINT_INTERVAL_MS}" in args
    assert args.count("--parallelism=4") == 1 and not any(a.startswith("--flink_job_server_jar") for a in args)

