"""Shared helpers of the UI tests: where the fixtures and artefacts are, polling with a deadline, the fixtures as
records."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from schemas.records import Alert, CanonicalEvent

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "ui" / "replay"
ARTIFACTS = REPO / "artifacts" / "ui"
DOCS_IMG = REPO / "docs" / "img"
AS_OF = "2025-04-30T12:00:00Z"


def wait_until(condition: Callable[[], object], timeout: float, what: str, proc: subprocess.Popen | None = None):
    """Poll `condition` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what}: the server exited with {proc.returncode}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout:.0f}s")
        time.sleep(0.1)


def fixture_events() -> dict[str, CanonicalEvent]:
    lines = (FIXTURES / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return {e.event_id: e for e in (CanonicalEvent.model_validate_json(line) for line in lines if line.strip())}


def fixture_alerts() -> list[Alert]:
    lines = (FIXTURES / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    return [Alert.model_validate_json(line) for line in lines if line.strip()]
