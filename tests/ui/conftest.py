"""UI fixtures: Debian's Chromium driven by Playwright, `nkru serve` fed by the UI fixtures and the real Kafka
topics, pages that collect console errors, and where screenshots go (artifacts/ui/, git-ignored;
NKRU_UPDATE_DOCS_IMG=1 also refreshes docs/img/).

Nothing here skips: no Chromium, no broker or a server that never comes up fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from connectors.kafka_broker import free_port
from connectors.kafka_io import ensure_topics
from nkru.settings import KafkaSettings
from schemas.topics import ALERTS, CANONICAL
from tests.ui.helpers import ARTIFACTS, AS_OF, DOCS_IMG, FIXTURES, REPO, wait_until

CHROMIUM = os.environ.get("NKRU_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@dataclass(frozen=True)
class Served:
    url: str
    kafka: KafkaSettings
    log: Path


def _health(url: str) -> dict:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
            return json.loads(response.read())
    except OSError:
        return {}


@pytest.fixture(scope="module")
def ui_kafka(kafka_bootstrap) -> KafkaSettings:
    """The session broker with this module's own canonical-event and alert topics."""
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=f"ui{uuid.uuid4().hex[:8]}.",
                             partitions=1)
    ensure_topics(settings, [CANONICAL, ALERTS])
    return settings


@pytest.fixture(scope="module")
def server(ui_kafka, tmp_path_factory) -> Served:
    """`nkru serve --from <UI fixtures> --live` in a subprocess, following this module's topics."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "NKRU_KAFKA__BOOTSTRAP_SERVERS": ui_kafka.bootstrap_servers,
           "NKRU_KAFKA__TOPIC_PREFIX": ui_kafka.topic_prefix}
    command = [sys.executable, "-c", "from nkru.web.cli import serve; serve()", "--from", str(FIXTURES), "--live",
               "--port", str(port), "--as-of", AS_OF]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _health(url).get("status", "").startswith("live:"), 60,
                   f"the server did not follow the topics (log {log})", proc)
        yield Served(url, ui_kafka, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set NKRU_CHROMIUM)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page (1366×850, a laptop screen); its console errors and uncaught exceptions are collected in
    `page.console_errors` and fail the test at the end."""
    context = browser.new_context(viewport={"width": 1366, "height": 850})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    errors: list[str] = []
    pg.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    pg.console_errors = errors  # type: ignore[attr-defined]
    yield pg
    context.close()
    assert not errors, f"JavaScript errors in the console: {errors}"


@pytest.fixture
def screenshot():
    """screenshot(page, name): save the visible window to artifacts/ui/NAME.png (and docs/img/ui-NAME.png when
    NKRU_UPDATE_DOCS_IMG=1, unless docs=False)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    update_docs = os.environ.get("NKRU_UPDATE_DOCS_IMG") == "1"

    def take(pg, name: str, full_page: bool = False, docs: bool = True) -> Path:
        path = ARTIFACTS / f"{name}.png"
        pg.screenshot(path=str(path), full_page=full_page)
        assert path.stat().st_size > 10_000, f"{path} looks empty"
        if docs and update_docs:
            DOCS_IMG.mkdir(parents=True, exist_ok=True)
            pg.screenshot(path=str(DOCS_IMG / f"ui-{name}.png"), full_page=full_page)
        return path

    return take
