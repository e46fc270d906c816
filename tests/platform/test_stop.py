"""Ctrl-C stops the long-running roles in order, on the real broker and Prism: a terminal's SIGINT reaches
the whole process group of `nkru process` / `nkru run`; each exits 0 within the bound of docs/operations.md,
logs the stop, prints no traceback, and leaves no Prism runner behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.platform.helpers import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.runner]

STOP_BOUND_S = 10  # docs/operations.md: "exit 0 within 10 s"

# one feed, never due during the test (its first poll fails at once: nothing listens on port 9)
REGISTRY = """version: 1
feeds:
  - {id: stop-test, url: "http://127.0.0.1:9/feed.xml", outlet: Stop Test, language: en, poll_interval: 1h}
"""


def _prism_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if b"prism" in Path(f"/proc/{c}/cmdline").read_bytes()]


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@pytest.mark.parametrize("command", [["process"], ["run", "--no-sample", "--feeds", "REGISTRY"]],
                         ids=["process", "run"])
def test_ctrl_c_stops_in_order_and_exits_0(kafka_settings, prism_binary, command, tmp_path):
    (tmp_path / "feeds.yaml").write_text(REGISTRY)
    command = [str(tmp_path / "feeds.yaml") if arg == "REGISTRY" else arg for arg in command]
    env = dict(os.environ, NKRU_KAFKA__BOOTSTRAP_SERVERS=kafka_settings.bootstrap_servers,
               NKRU_KAFKA__TOPIC_PREFIX=kafka_settings.topic_prefix, NKRU_PROCESS__GROUP_ID=f"stop-{tmp_path.name}",
               NKRU_OBSERVABILITY__PORT="0", NKRU_STATE=str(tmp_path / "state"), NKRU_PRISM=str(prism_binary))
    stderr = tmp_path / "stderr.txt"
    with open(stderr, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "nkru", *command], env=env, stdout=subprocess.DEVNULL,
                                stderr=err, start_new_session=True)
    try:
        wait_for(lambda: "running" in stderr.read_text() and "Ctrl-C" in stderr.read_text()
                 or proc.poll() is not None, 120, "the job to run")
        assert proc.poll() is None, stderr.read_text()[-3000:]
        prism = _prism_children(proc.pid)
        assert prism, "no Prism runner under the job"
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
        started = time.monotonic()
        code = proc.wait(timeout=60)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    log = stderr.read_text()
    assert code == 0, log[-3000:]
    assert "received SIGINT: stopping" in log
    assert "Traceback" not in log and "Exception in thread" not in log, log[-3000:]
    assert took < STOP_BOUND_S, f"stopping took {took:.1f}s"
    wait_for(lambda: not any(_running(p) for p in prism), 10, "the Prism runner to stop with the job")
