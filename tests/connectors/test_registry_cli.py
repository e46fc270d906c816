"""The registry (YAML with line-numbered errors, the bundled default), OPML import/export, and the CLI."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.feeds.cli import feeds, ingest
from connectors.feeds.opml import export_opml, import_opml
from connectors.feeds.registry import Registry, RegistryError, load_registry, parse_registry
from nkru.settings import Settings

GOOD = """\
version: 1
feeds:
  - id: wire
    url: https://wire.example.org/feed
    outlet: Wire
    language: en
    poll_interval: 15m
    timezone: Asia/Seoul
    tags: [world]
"""


def test_default_registry_covers_the_beat():
    registry = load_registry()
    languages = {f.language for f in registry.enabled}
    tags = {t for f in registry.enabled for t in f.tags}
    assert {"en", "ko", "ru", "uk", "ja"} <= languages and len(registry.enabled) >= 50
    assert {"wire", "think-tank", "korea", "russia", "ukraine", "japan"} <= tags


def test_registry_fields_parse():
    feed = parse_registry(GOOD).feeds[0]
    assert feed.poll_interval == 900 and feed.tzinfo is not None and feed.tags == ("world",)


@pytest.mark.parametrize("edit, where", [
    (("url: https://wire.example.org/feed", "url: ftp://wire.example.org/feed"), "line 4: feeds[0].url"),
    (("poll_interval: 15m", "poll_interval: soon"), "line 7: feeds[0].poll_interval"),
    (("timezone: Asia/Seoul", "timezone: Mars/Base"), "line 8: feeds[0].timezone"),
    (("    tags: [world]", "    tags: [world]\n    colour: red"), "line 10: feeds[0].colour"),
    (("  - id: wire", "  - id: Wire Feed"), "line 3: feeds[0].id"),
    (("    outlet: Wire\n", ""), "line 3: feeds[0].outlet"),
    (("tags: [world]", "tags: [world"), "line 10"),
])
def test_errors_name_the_line_and_the_field(edit, where):
    with pytest.raises(RegistryError) as err:
        parse_registry(GOOD.replace(*edit), "feeds.yaml")
    assert str(err.value).startswith("feeds.yaml: ") and where in str(err.value)


def test_duplicate_ids_and_urls_name_both_lines():
    text = GOOD + "  - id: wire\n    url: https://other.example.org/\n    outlet: O\n"
    with pytest.raises(RegistryError, match=r"line 10: feeds\[1\]\.id: duplicate id 'wire' \(first at line 3\)"):
        parse_registry(text)
    text = GOOD + "  - id: other\n    url: HTTPS://WIRE.example.org/feed\n    outlet: O\n"
    with pytest.raises(RegistryError, match=r"line 11: feeds\[1\]\.url: duplicate url"):
        parse_registry(text)


OPML = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>mine</title></head><body>
  <outline text="Korea">
    <outline type="rss" text="NK Watch" xmlUrl="https://nkwatch.example.org/feed" htmlUrl="https://nkwatch.example.org/"/>
    <outline type="rss" text="\xeb\xb6\x81\xed\x95\x9c \xeb\x89\xb4\xec\x8a\xa4"
             xmlUrl="https://ko.example.org/rss" language="ko"/>
  </outline>
  <outline type="rss" text="Wire again" xmlUrl="https://WIRE.example.org/feed#x"/>
  <outline type="rss" text="Broken" xmlUrl="javascript:alert(1)"/>
</body></opml>"""


def test_opml_import_merges_and_export_round_trips():
    base = parse_registry(GOOD)
    merged, added, skipped = import_opml(OPML, base)
    assert [f.url for f in added] == ["https://nkwatch.example.org/feed", "https://ko.example.org/rss"]
    assert added[0].id == "nk-watch" and added[0].tags == ("korea",) and added[1].language == "ko"
    assert added[1].id == "ko-example-org" and len(skipped) == 2
    again, _, _ = import_opml(export_opml(merged).encode(), Registry())
    assert {f.url for f in again.feeds} == {f.url for f in merged.feeds}
    assert {f.url: f.tags for f in again.feeds} == {f.url: f.tags for f in merged.feeds}


def test_opml_with_entity_tricks_is_refused():
    evil = b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]><opml><body/></opml>'
    with pytest.raises(ValueError, match="refused"):
        import_opml(evil, Registry())


def test_cli_import_export_ingest_status(feed_server, tmp_path):
    settings = Settings(state_dir=tmp_path / "state")
    runner = CliRunner()
    (tmp_path / "list.opml").write_bytes(OPML)
    reg = tmp_path / "feeds.yaml"
    reg.write_text(GOOD.replace("https://wire.example.org/feed", feed_server.url("/wire")))
    feed_server.route("/wire", body=feed_server.rss([("a", "A"), ("b", "B")]))
    result = runner.invoke(feeds, ["import", str(tmp_path / "list.opml"), "--into", str(reg)], obj=settings)
    assert result.exit_code == 0, result.output
    # the registry's wire feed lives on the local server here, so the OPML's wire URL is new
    assert "3 feeds added" in result.output and "1 already present" in result.output
    assert len(load_registry(reg).feeds) == 4
    exported = runner.invoke(feeds, ["export", "--feeds", str(reg)], obj=settings)
    assert exported.exit_code == 0 and exported.output.count("xmlUrl=") == 4

    only_wire = tmp_path / "wire.yaml"
    only_wire.write_text(GOOD.replace("https://wire.example.org/feed", feed_server.url("/wire")))
    out = tmp_path / "out"
    run = runner.invoke(ingest, ["--feeds", str(only_wire), "--once", "--out", str(out)], obj=settings)
    assert run.exit_code == 0, run.output
    summary = json.loads(run.output.strip().splitlines()[-1])
    assert summary["articles"] == 2 and summary["outcomes"] == {"ok": 1}
    assert len((out / "articles.jsonl").read_text().splitlines()) == 2

    status = runner.invoke(feeds, ["status", "--feeds", str(only_wire), "--json"], obj=settings)
    row = json.loads(status.output.strip())
    assert row["feed"] == "wire" and row["items_last_poll"] == 2 and row["error_streak"] == 0
    assert row["last_success"] != "-" and row["next_poll"] != "-"
    table = runner.invoke(feeds, ["status", "--feeds", str(only_wire)], obj=settings)
    assert "wire" in table.output and "last success" in table.output


def test_cli_reports_registry_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("poll_interval: 15m", "poll_interval: never"))
    result = CliRunner().invoke(ingest, ["--feeds", str(bad), "--once", "--out", str(tmp_path / "o")],
                                obj=Settings(state_dir=tmp_path))
    assert result.exit_code != 0 and "line 7: feeds[0].poll_interval" in result.output
    assert Path(tmp_path / "o").exists() is False


def test_ingest_serves_healthz_and_metrics_while_it_polls(feed_server, tmp_path):
    """`nkru ingest` answers /healthz like `nkru process` (the image's HEALTHCHECK asks it), and stops on SIGTERM."""
    reg = tmp_path / "feeds.yaml"
    reg.write_text(GOOD.replace("https://wire.example.org/feed", feed_server.url("/wire")))
    feed_server.route("/wire", body=feed_server.rss([("a", "A"), ("b", "B")]))
    env = dict(os.environ, NKRU_STATE_DIR=str(tmp_path / "state"))
    proc = subprocess.Popen([sys.executable, "-m", "nkru", "ingest", "--feeds", str(reg), "--out", str(tmp_path / "out"),
                             "--metrics-port", "0"], env=env, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True).start()
    try:
        url = None
        while url is None:  # the endpoint is announced before the first round
            line = lines.get(timeout=30)
            found = re.search(r"health on (http://\S+/healthz)", line)
            url = found.group(1) if found else None
        assert feed_server.wait_until(lambda: len(feed_server.hits("/wire")) >= 1)
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.loads(response.read())
        assert response.status == 200 and body["ok"] and body["checks"]["poll_loop"] is True
        with urllib.request.urlopen(url.replace("/healthz", "/metrics"), timeout=10) as response:
            assert b"nkru_feed_fetches_total" in response.read()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0


def test_a_poll_loop_that_stopped_turning_is_unhealthy(tmp_path):
    from connectors.feeds.poller import Poller

    poller = Poller(parse_registry(GOOD), Settings(state_dir=tmp_path), publisher=None)
    try:
        assert poller.alive() is True
        poller.heartbeat -= 601
        assert "no poll round has started for 6" in poller.alive()
        poller.stop.set()
        assert poller.alive() == "the poller has stopped"
    finally:
        poller.close()
