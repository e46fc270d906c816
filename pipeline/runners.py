"""Beam runners: the local Prism binary (built from the Go module proxy, cached) and pipeline options for it.

Prism normally downloads its binary from GitHub; here it is built once with
``go install github.com/apache/beam/sdks/v2/go/cmd/prism@v<BEAM_VERSION>`` into the nkru cache and
passed to the SDK with ``--prism_location``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import apache_beam
from apache_beam.options.pipeline_options import PipelineOptions

from nkru.paths import cache_dir

BEAM_VERSION = apache_beam.__version__


class RunnerError(RuntimeError):
    """A runner binary could not be found or built; the message says what to do."""


def prism_path() -> Path:
    explicit = os.environ.get("NKRU_PRISM")
    if explicit:
        return Path(explicit)
    return cache_dir() / f"prism-{BEAM_VERSION}" / "prism"


def build_prism(quiet: bool = True) -> Path:
    """Build (once) the Prism binary matching the installed Beam SDK; return its path."""
    target = prism_path()
    if target.exists():
        return target
    go = shutil.which("go")
    if go is None:
        raise RunnerError("Go is needed once to build the Prism runner (go install from the module proxy); "
                          "install Go or point NKRU_PRISM at a prism binary")
    target.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOBIN=str(target.parent), CGO_ENABLED="0")
    # The checksum database has no entry for Beam's Go module: skip it for that module only.
    env["GONOSUMDB"] = ",".join(filter(None, [env.get("GONOSUMDB"), "github.com/apache/beam"]))
    module = f"github.com/apache/beam/sdks/v2/go/cmd/prism@v{BEAM_VERSION}"
    done = subprocess.run([go, "install", module], env=env, capture_output=quiet, text=True)
    if done.returncode != 0 or not target.exists():
        raise RunnerError(f"building Prism ({module}) failed:\n{(done.stderr or '')[-3000:]}")
    return target


def refuse_runner_splits() -> None:
    """Make this process's SDK harness refuse runner-initiated bundle splits.

    Prism 2.62 splits a bundle that shows no progress for two 100 ms checks, and runs the split-off half
    of a *stateful* stage without the key's state, then lets it overwrite that state
    (apache/beam#35771, fixed in later Prism versions): keyed state is silently lost under load. Refusing
    a split is always correct (the runner then waits for the bundle); it only forgoes a throughput
    optimisation. Splittable DoFns still checkpoint themselves (`defer_remainder`). With the LOOPBACK
    environment the harness runs in this process, so patching it here covers every stage.
    """
    from apache_beam.runners.worker import bundle_processor

    if getattr(bundle_processor.DataInputOperation.try_split, "_nkru_refuses", False):
        return

    def try_split(self, *args, **kwargs):
        return None

    try_split._nkru_refuses = True  # type: ignore[attr-defined]
    bundle_processor.DataInputOperation.try_split = try_split


def runner_options(runner: str = "prism", streaming: bool = False, extra: list[str] | None = None) -> PipelineOptions:
    """Options for `runner`: 'prism' (local, default), 'flink' (pipeline/flink.py) or any Beam runner name,
    with further Beam flags passed through in `extra`."""
    if runner == "flink":
        from pipeline.flink import runner_args

        return PipelineOptions(runner_args(streaming=streaming, extra=extra))
    args = list(extra or [])
    if not any(a.startswith("--job_server_timeout") for a in args):
        # the SDK's gRPC calls to the job service (wait_until_finish included) time out after 60 s by
        # default, which ends any longer job (apache/beam#35867)
        args.append("--job_server_timeout=604800")
    if runner == "prism":
        refuse_runner_splits()
        args = ["--runner=PrismRunner", f"--prism_location={build_prism()}",
                "--environment_type=LOOPBACK", *args]
    elif not any(a.startswith("--runner") for a in args):
        args = [f"--runner={runner}", *args]
    if streaming:
        args.append("--streaming")
    return PipelineOptions(args)
