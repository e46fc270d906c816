"""Beam runners: the local Prism binary (built from the Go module proxy, cached) and pipeline options for it.

Prism normally downloads its binary from GitHub; here it is built once with
``go install github.com/apache/beam/sdks/v2/go/cmd/prism@v<BEAM_VERSION>`` into the nkru cache and
passed to the SDK with ``--prism_location`` through a launcher that gives it a session of its own (so a
terminal's Ctrl-C reaches only nkru); the direct runner for bounded replays, its workers in sessions of
their own. Also workarounds of Beam 2.62 that the roles depend on.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
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


# Run by the launcher below between fork and Prism: a session of its own, and death with its parent.
_SESSION_CODE = """import ctypes, os, signal, sys
parent = os.getppid()
os.setsid()
ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
if os.getppid() != parent:
    sys.exit("the process that started Prism has gone")
os.execv(sys.argv[1], sys.argv[1:])
"""


def prism_launcher(binary: Path) -> Path:
    """A launcher that runs `binary` in a session of its own, killed when the process that started it dies.

    A terminal's Ctrl-C signals its whole foreground process group; Prism (no signal handling of its own)
    would die at once and take the running job with it, before nkru stops the job in order. In its own
    session only nkru receives the signal; Beam's job server still stops Prism at exit (SIGINT to its
    pid, which the launcher keeps through exec), and PR_SET_PDEATHSIG kills it when nkru is killed
    (kill -9 included). The death signal follows the *thread* that started Prism: start jobs from the
    main thread (nkru does). Linux only; elsewhere, and when the cache is not writable, `binary` itself.
    """
    if not sys.platform.startswith("linux"):
        return binary
    script = (f"#!/bin/sh\n# written by nkru (pipeline/runners.py prism_launcher)\n"
              f"exec {shlex.quote(sys.executable)} -I -S -c {shlex.quote(_SESSION_CODE)} "
              f"{shlex.quote(str(binary))} \"$@\"\n")
    target = cache_dir() / f"prism-session-{hashlib.sha256(script.encode()).hexdigest()[:12]}"
    if target.exists():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        partial.write_text(script)
        partial.chmod(0o755)
        partial.replace(target)
    except OSError:
        return binary
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


def keep_sigint_handler() -> None:
    """Keep the process's own SIGINT handler when Beam starts a job server.

    Beam's `StopOnExitJobServer` (Prism's, and any job server Beam starts itself) installs its `stop` as
    the SIGINT handler when it starts; that method takes no arguments, so Ctrl-C ended `nkru run`/`nkru process`
    with a TypeError and exit 1 instead of their orderly stop (nkru/jobs.py). The job server still stops
    when the process exits: Beam registers the same `stop` with atexit.
    """
    from apache_beam.runners.portability.job_server import StopOnExitJobServer

    if getattr(StopOnExitJobServer.start, "_nkru_keeps_sigint", False):
        return
    start = StopOnExitJobServer.start

    def start_keeping_sigint(self):
        if threading.current_thread() is not threading.main_thread():
            return start(self)
        previous = signal.getsignal(signal.SIGINT)
        try:
            return start(self)
        finally:
            if previous is not None:  # None: a handler installed outside Python, which cannot be put back
                signal.signal(signal.SIGINT, previous)

    start_keeping_sigint._nkru_keeps_sigint = True  # type: ignore[attr-defined]
    StopOnExitJobServer.start = start_keeping_sigint


def quiet_cancelled_bundles() -> None:
    """Let a bundle that was running when its job was cancelled end without an error traceback.

    On cancel the SDK harness shuts its bundle processors down while a bundle may still be running
    (here: the Kafka source's long-polling one); when that bundle then returns, `release` (or `discard`)
    of Beam 2.62 finds its processor gone, raises KeyError, and the harness prints the traceback to stderr
    at every orderly stop. The processor was already shut down, so there is nothing left to release.
    """
    from apache_beam.runners.worker.sdk_worker import BundleProcessorCache

    if getattr(BundleProcessorCache.release, "_nkru_quiet", False):
        return
    release, discard = BundleProcessorCache.release, BundleProcessorCache.discard

    def tolerant(method):
        def call(self, instruction_id):
            with self._lock:
                gone = instruction_id not in self.active_bundle_processors
            if not gone:
                return method(self, instruction_id)

        call._nkru_quiet = True  # type: ignore[attr-defined]
        return call

    BundleProcessorCache.release = tolerant(release)
    BundleProcessorCache.discard = tolerant(discard)


def quiet_harness_after_cancel() -> None:
    """From now on, the in-process SDK harness's errors are a cancelled job's teardown, not news.

    Called by a stop just before it cancels the job. A bundle in flight then ends with "Channel closed
    prematurely" (logged as an error with its traceback), and harness threads whose runner is already
    gone raise gRPC UNAVAILABLE out of their streams ("Exception in thread run_worker_…", "…
    read_grpc_client_inputs"). All are kept at DEBUG: an orderly stop prints no traceback. Harmless after a stop: the process is ending.
    """
    for name in ("apache_beam.runners.worker.sdk_worker", "apache_beam.runners.worker.data_plane"):
        logging.getLogger(name).addFilter(_demote_to_debug)  # addFilter adds a filter once
    previous = threading.excepthook
    if getattr(previous, "_nkru_quiet", False):
        return

    import grpc

    def excepthook(args):
        # "run_worker_…": the in-process harness's threads; "run_worker": the direct runner's watcher of a
        # worker process ("Worker subprocess exited with return code -15" once `stop_direct_workers` stopped it)
        harness = args.thread is not None and args.thread.name.startswith("run_worker")
        if harness or isinstance(args.exc_value, grpc.RpcError):  # e.g. the data plane's reader thread
            logging.getLogger(__name__).debug("harness thread %s ended after the cancel: %s",
                                              args.thread.name, args.exc_value)
            return
        previous(args)

    excepthook._nkru_quiet = True  # type: ignore[attr-defined]
    threading.excepthook = excepthook


def _demote_to_debug(record: logging.LogRecord) -> bool:
    """A logging filter: records at WARNING and above are dropped, after being logged again at DEBUG."""
    if record.levelno < logging.WARNING:
        return True
    logging.getLogger(__name__).debug("after the cancel: %s", record.getMessage())
    return False


MAX_DIRECT_WORKERS = 8  # each worker process holds its share of the replay (0.8-1.1 GB at 20,000 3 KB texts)


def direct_workers() -> int:
    """Worker processes of the direct runner: one per core this process may use, at most `MAX_DIRECT_WORKERS`."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, MAX_DIRECT_WORKERS))


_DIRECT_WORKERS: list[subprocess.Popen] = []


def direct_workers_in_own_sessions() -> None:
    """Start the direct runner's worker processes in sessions of their own, and remember them.

    A terminal's Ctrl-C signals its whole foreground process group: each worker would die printing a
    KeyboardInterrupt traceback. In their own sessions only nkru gets it and stops them (`stop_direct_workers`).
    Beam 2.62 starts them with `subprocess.Popen(command, shell=True)` in `local_job_service`.
    """
    from apache_beam.runners.portability import local_job_service

    if getattr(local_job_service.subprocess, "_nkru_sessions", False):
        return

    class _Subprocess:  # the subprocess module as local_job_service sees it
        _nkru_sessions = True

        def __getattr__(self, name):
            return getattr(subprocess, name)

        @staticmethod
        def Popen(*args, **kwargs):
            kwargs.setdefault("start_new_session", True)
            process = subprocess.Popen(*args, **kwargs)
            _DIRECT_WORKERS[:] = [*(p for p in _DIRECT_WORKERS if p.poll() is None), process]
            return process

    local_job_service.subprocess = _Subprocess()


def stop_direct_workers() -> None:
    """Stop the direct runner's worker processes (an interrupted replay); the errors this makes in the runner's
    threads (a worker gone, its data and control streams broken) are logged at DEBUG, not printed."""
    quiet_harness_after_cancel()
    for process in _DIRECT_WORKERS:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    _DIRECT_WORKERS.clear()


def runner_options(runner: str = "prism", streaming: bool = False, extra: list[str] | None = None) -> PipelineOptions:
    """Options for `runner`: 'prism' (local, default), 'direct' (bounded only: the SDK's own runner,
    `direct_workers()` worker processes), 'flink' (pipeline/flink.py) or any Beam runner name, with further
    Beam flags passed through in `extra` (they win over these defaults)."""
    keep_sigint_handler()
    if runner == "direct":
        if streaming:
            raise RunnerError("the direct runner runs bounded replays only; the streaming job runs on prism or flink")
        # its worker processes forward their log lines at WARNING ("No semi_persistent_directory found", …)
        logging.getLogger("apache_beam.runners.portability.local_job_service").setLevel(logging.ERROR)
        direct_workers_in_own_sessions()
        return PipelineOptions(["--runner=DirectRunner", "--direct_running_mode=multi_processing",
                                f"--direct_num_workers={direct_workers()}", *(extra or [])])
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
        quiet_cancelled_bundles()
        args = ["--runner=PrismRunner", f"--prism_location={prism_launcher(build_prism())}",
                "--environment_type=LOOPBACK", *args]
    elif not any(a.startswith("--runner") for a in args):
        args = [f"--runner={runner}", *args]
    if streaming:
        args.append("--streaming")
    return PipelineOptions(args)
