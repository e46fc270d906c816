"""`nkru replay` over a JSONL of articles on the Prism runner: every output written, counts add up,
bad lines become dead letters, exact duplicates are processed once, and a re-run is byte-identical."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.replay import ReplayError, run_replay

pytestmark = pytest.mark.runner

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "platform" / "articles.jsonl"


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory, prism_binary):
    out = tmp_path_factory.mktemp("replay")
    summary = run_replay([FIXTURE], out)
    return out, summary


def test_every_output_is_written_and_counted(replayed):
    out, summary = replayed
    for name in ("articles", "events", "alerts", "dead_letters"):
        assert (out / f"{name}.jsonl").exists()
    assert json.loads((out / "summary.json").read_text()) == summary
    input_lines = [line for line in FIXTURE.read_text().splitlines() if line.strip()]
    articles = _lines(out / "articles.jsonl")
    dead = _lines(out / "dead_letters.jsonl")
    assert summary["inputs"]["lines"] == len(input_lines)
    # the broken line is a dead letter of the decode stage, and names where it came from
    assert [d["stage"] for d in dead] == ["decode"]
    assert dead[0]["payload_ref"].endswith(f"articles.jsonl:{len(input_lines)}")
    # one line is an exact duplicate: each id comes out once
    ids = [a["article"]["id"] for a in articles]
    assert len(ids) == len(set(ids)) == len(input_lines) - 2
    assert summary["dedup"]["exact_duplicates_dropped"] == 1
    assert summary["outputs"]["articles"] == len(articles)
    assert summary["outputs"]["relevant_articles"] == sum(a["relevant"] for a in articles)


def test_relevance_separates_the_fixture(replayed):
    out, _ = replayed
    by_title = {a["article"]["title"]: a["relevant"] for a in _lines(out / "articles.jsonl")}
    assert by_title["Storm damages harbour in northern Norway"] is False
    assert by_title["K-pop group announces world tour"] is False
    assert by_title["Kim Jong Un confirms troops fought for Russia in Kursk"] is True


def test_rerun_gives_identical_outputs(replayed, tmp_path):
    out, _ = replayed
    run_replay([FIXTURE], tmp_path)
    for name in ("articles", "events", "alerts", "dead_letters"):
        assert (tmp_path / f"{name}.jsonl").read_bytes() == (out / f"{name}.jsonl").read_bytes(), name


def test_missing_source_is_a_clear_error(tmp_path):
    with pytest.raises(ReplayError, match="does not exist"):
        run_replay([tmp_path / "nope.jsonl"], tmp_path / "out")
