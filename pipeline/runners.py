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
        args = ["--runner=PrismRunner", f"--prism_location={build_prism()}",
                "--environment_type=LOOPBACK", *args]
    elif not any(a.startswith("--runner") for a in args):
        args = [f"--runner={runner}", *args]
    if streaming:
        args.append("--streaming")
    return PipelineOptions(args)
