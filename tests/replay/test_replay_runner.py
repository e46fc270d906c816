"""`nkru replay` of every kind of archived input on the direct runner (its default; two worker processes): each
article once (its earliest snapshot), every file and item accounted for in summary.json, the event-time range,
byte-identical re-runs, progress, and the same files as on Prism."""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.graph import GraphConfig
from pipeline.replay import ReplayOptions, run_replay
from tests.replay.warc import PAGE_URL, write_warc

pytestmark = pytest.mark.runner

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "replay"
OUTPUTS = ("articles", "events", "alerts", "dead_letters")


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> list[Path]:
    warc = write_warc(tmp_path_factory.mktemp("warc") / "crawl.warc.gz")
    return [FIXTURES, warc]


@pytest.fixture(scope="module")
def replayed(sources, tmp_path_factory, prism_binary):
    out = tmp_path_factory.mktemp("replay")
    quiet = io.StringIO()  # not a terminal: no progress unless asked
    summary = run_replay(sources, out, options=ReplayOptions(progress_stream=quiet))
    return out, summary, quiet.getvalue()


def test_every_kind_of_input_reaches_the_graph_once_per_article(replayed):
    out, summary, _ = replayed
    articles = [row["article"] for row in _lines(out / "articles.jsonl")]
    ids = [a["id"] for a in articles]
    assert len(ids) == len(set(ids)) == summary["extract"]["articles_in"]
    origins = {a["id"]: a["origin"] for a in articles}
    assert origins["https://east-desk.example.net/news/troops-training-ground"].endswith(
        "east-desk/20240301T060000Z.xml")  # earliest of two snapshots
    assert origins["https://rdf-bulletin.example.org/items/artillery-shells"].endswith(".rdf")
    assert origins["https://news.example.org/world/delegation"].endswith("_entries.json")
    assert origins["https://archive.example.com/2024/03/07/envoy"].endswith("articles.jsonl:1")
    assert ".warc.gz#" in origins[PAGE_URL]
    # in a feed snapshot fetched 2024-03-02 and in the JSONL (fetched 2024-03-08): the earlier wins
    assert origins["https://east-desk.example.net/news/rail-freight"].endswith("20240302T061500Z.xml")
    # in the Atom document (fetched 03-04) and the crawled feed (03-08)
    assert origins["https://atom-wire.example.com/2024/03/air-links"].endswith(".atom")


def test_summary_accounts_for_every_file_item_and_article(replayed, sources):
    out, summary, _ = replayed
    assert json.loads((out / "summary.json").read_text()) == summary
    files = sum(len(names) for _, _, names in os.walk(FIXTURES)) + 1  # + the WARC
    inputs, acc = summary["inputs"], summary["accounting"]
    assert inputs["files"] == files
    assert summary["documents"] == inputs["files_read"] == files - 1
    assert list(inputs["skipped_files"]) == [str(FIXTURES / "README.md")]
    assert (inputs["feed_documents"], inputs["entries_exports"], inputs["jsonl_files"], inputs["warc_files"]) == (
        7, 1, 1, 1)  # 5 feed files, sources.json, the crawled feed
    assert acc["balanced"]
    assert acc["items"] == inputs["entries"] + inputs["lines"] + inputs["pages"] == 14 + 4 + 1  # entries: 10 + 4
    # repeats: two in the second east-desk snapshot, rail-freight in the JSONL, air-links in the crawl, the page
    assert acc["repeats_collapsed"] == summary["dedup"]["repeats_collapsed_before_extraction"] == 5
    assert acc["into_graph"] == acc["unique_articles"] == summary["outputs"]["articles"] == 11
    assert acc["missing_in_graph"] == 0
    stages = summary["dead_letters_by_stage"]
    assert stages == {"decode": 1, "parse": 2, "replay_source": 3}
    assert summary["outputs"]["dead_letters"] == sum(stages.values())


def test_rerun_gives_byte_identical_outputs(replayed, sources, tmp_path):
    out, _, _ = replayed
    run_replay(sources, tmp_path, options=ReplayOptions(progress=False))
    for name in (*OUTPUTS, "summary"):
        suffix = ".json" if name == "summary" else ".jsonl"
        assert (tmp_path / f"{name}{suffix}").read_bytes() == (out / f"{name}{suffix}").read_bytes(), name


def test_prism_gives_the_same_files_and_accounting_as_the_direct_runner(replayed, sources, tmp_path):
    """Also across layouts: the direct runner's replay here folds on shard keys, Prism's on one key per fold."""
    out, summary, _ = replayed
    assert summary["runner"] == "direct" and summary["metrics"]["dedup.band_keys"] > 0  # its metrics reach us
    on_prism = run_replay(sources, tmp_path, GraphConfig(layout="single"), runner="prism",
                          options=ReplayOptions(progress=False))
    assert (on_prism["runner"], on_prism["layout"], summary["layout"]) == ("prism", "single", "sharded")
    for name in OUTPUTS:
        assert (tmp_path / f"{name}.jsonl").read_bytes() == (out / f"{name}.jsonl").read_bytes(), name
    for part in ("accounting", "extract", "dedup", "outputs"):
        assert on_prism[part] == summary[part], part


def test_time_range_keeps_event_times_in_range_and_counts_the_rest(replayed, sources, tmp_path):
    out, full, quiet = replayed
    assert quiet == ""  # progress only on a terminal unless asked
    since, until = datetime(2024, 3, 2, tzinfo=UTC), datetime(2024, 3, 6, tzinfo=UTC)
    expected = {row["article"]["id"] for row in _lines(out / "articles.jsonl")
                if since <= datetime.fromisoformat(row["article"]["published"]) < until}
    assert 0 < len(expected) < full["outputs"]["articles"]
    shown = io.StringIO()
    summary = run_replay(sources, tmp_path, options=ReplayOptions(since=since, until=until, progress=True,
                                                                  progress_stream=shown))
    assert {row["article"]["id"] for row in _lines(tmp_path / "articles.jsonl")} == expected
    assert summary["accounting"]["outside_time_range"] == full["outputs"]["articles"] - len(expected)
    assert summary["time_range"] == {"since": since.isoformat(), "until": until.isoformat(), "on": "published"}
    # progress when asked: the bar ends at every input byte, then the summary line
    text = shown.getvalue()
    total = summary["inputs"]["bytes"]
    assert total == sum(Path(f).stat().st_size for f in _input_files(sources))
    assert "100%" in text and f"files {summary['documents']}/{summary['documents']}" in text
    assert text.rstrip().splitlines()[-1].startswith(f"replayed {summary['documents']} files, "
                                                     f"{summary['accounting']['items']} items")


def _input_files(sources: list[Path]) -> list[Path]:
    files = [sources[1]]
    for dirpath, _, names in os.walk(sources[0]):
        files.extend(Path(dirpath) / n for n in names if n != "README.md")
    return files
