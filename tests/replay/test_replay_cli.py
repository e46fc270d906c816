"""The replay options as `nkru replay` declares them (`pipeline.replay_cli`), on a command shaped like the CLI's."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from nkru.settings import Settings
from pipeline.replay import ReplayError
from pipeline.replay_cli import replay_from_cli, replay_options

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "replay"


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--runner", default="prism")
@replay_options
@click.pass_context
def replay(ctx, sources, out_dir, runner, **options):
    try:
        _, line = replay_from_cli(Settings(), sources, out_dir, runner, None, None, list(ctx.args), **options)
    except ReplayError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(line)


def _invoke(*args: str):
    return CliRunner().invoke(replay, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("args, message", [
    ((FIXTURES,), "--out DIR is required"),
    ((FIXTURES, "--out", "x", "--speed", "10"), "pace a --to-kafka replay"),
    ((FIXTURES, "--out", "x", "--since", "yesterday"), "not an ISO date"),
    ((FIXTURES, "--out", "x", "--since", "2024-03-06", "--until", "2024-03-02"), "is not before"),
    ((FIXTURES, "--to-kafka", "--prefix", ""), "needs a topic prefix"),
    ((FIXTURES, "--to-kafka", "--speed", "fast"), "--speed must be a number"),
])
def test_unusable_option_combinations_are_one_line_errors(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _invoke(*args)
    assert result.exit_code != 0 and message in result.output
    assert not (tmp_path / "x").exists()


@pytest.mark.runner
def test_a_time_range_replay_prints_the_outputs(tmp_path, prism_binary):
    result = _invoke(FIXTURES, "--out", tmp_path, "--since", "2024-03-02", "--until", "2024-03-06T00:00:00Z")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output.strip().splitlines()[-1])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert printed == summary["outputs"] | {"documents": summary["documents"]}
    assert summary["time_range"]["since"] == "2024-03-02T00:00:00+00:00"
    assert 0 < summary["accounting"]["into_graph"] < summary["accounting"]["unique_articles"]
