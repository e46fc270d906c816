"""Ctrl-C on a replay (the direct runner, its default): one line, no traceback, no worker process left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from bench.synth_news import FEED, NewsStream, write_jsonl
from tests.platform.helpers import wait_for

DEADLINE = 60.0


def _children(pid: int) -> set[int]:
    """Every descendant of `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _workers(pid: int) -> set[int]:
    workers = set()
    for child in _children(pid):
        try:
            if b"sdk_worker_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                workers.add(child)
        except OSError:
            continue
    return workers


def test_ctrl_c_stops_the_replay_and_its_workers_with_one_line(tmp_path):
    source = tmp_path / "articles.jsonl"
    write_jsonl(NewsStream(FEED, per_day=2000), source, 20_000)  # long enough to be interrupted midway
    # a terminal's Ctrl-C signals the whole foreground process group: the replay's own group here
    replay = subprocess.Popen([sys.executable, "-m", "nkru", "replay", str(source), "--out", str(tmp_path / "out"),
                               "--no-progress"], stderr=subprocess.PIPE, text=True, start_new_session=True)
    found: dict[str, set[int]] = {}

    def workers_started() -> bool:
        found["workers"] = _workers(replay.pid)
        return len(found["workers"]) >= 2

    try:
        wait_for(workers_started, DEADLINE, "the direct runner's worker processes")
        os.killpg(replay.pid, signal.SIGINT)
        assert replay.wait(timeout=DEADLINE) == 1
    finally:
        if replay.poll() is None:
            os.killpg(replay.pid, signal.SIGKILL)
    errors = replay.stderr.read()
    assert "interrupted" in errors and "Traceback" not in errors, errors[-2000:]
    wait_for(lambda: not any(Path(f"/proc/{w}").exists() for w in found["workers"]), DEADLINE, "the workers to end")
    assert not (tmp_path / "out" / "summary.json").exists()
