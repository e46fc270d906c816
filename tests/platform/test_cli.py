"""The `nkru` command line: help for every command, schema export, offline extraction, config errors,
and the local broker's start/status/stop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nkru.cli import main

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "platform" / "articles.jsonl"


def _commands(group, prefix=()):
    for name, cmd in group.commands.items():
        yield (*prefix, name), cmd
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*prefix, name))


@pytest.mark.parametrize("path", [p for p, _ in _commands(main)], ids=lambda p: " ".join(p))
def test_every_command_has_help(path):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    usage, _, rest = result.stdout.partition("\n\n")  # stdout alone: other tests' clients may log to stderr
    assert usage.startswith("Usage: ")
    assert len(rest.strip().splitlines()[0]) > 10  # a sentence that says what it does


def test_schemas_export_writes_a_schema_per_topic(tmp_path):
    from schemas.topics import TOPICS

    result = CliRunner().invoke(main, ["schemas", "export", str(tmp_path)])
    assert result.exit_code == 0, result.output
    index = json.loads((tmp_path / "index.json").read_text())
    assert set(index) == set(TOPICS)
    alert = json.loads((tmp_path / "nkru.alerts.schema.json").read_text())
    assert {"alert_id", "event_id", "revision", "kind", "severity"} <= set(alert["properties"])
    assert alert["x-nkru-topic"]["key"] == "event_id"


def test_extract_writes_one_line_per_readable_input(tmp_path):
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["extract", "--input", str(FIXTURE), "--output", str(out)])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    inputs = [line for line in FIXTURE.read_text().splitlines() if line.strip()]
    assert len(lines) == len(inputs) - 1  # the last input line is not JSON
    assert result.exit_code == 1 and "not an article" in result.output
    assert all({"id", "relevant", "relevance_score", "events"} <= set(row) for row in lines)
    assert lines[0]["id"] == json.loads(inputs[0])["id"]


def test_bad_settings_file_names_the_field(tmp_path):
    cfg = tmp_path / "nkru.yaml"
    cfg.write_text("kafka:\n  partitions: zero\n")
    result = CliRunner().invoke(main, ["--config", str(cfg), "schemas", "list"])
    assert result.exit_code == 1
    assert "kafka.partitions" in result.output and str(cfg) in result.output


def test_environment_overrides_settings_file(tmp_path, monkeypatch):
    from nkru.settings import load_settings

    cfg = tmp_path / "nkru.yaml"
    cfg.write_text("kafka:\n  bootstrap_servers: file:1\n  partitions: 4\n")
    monkeypatch.setenv("NKRU_KAFKA__BOOTSTRAP_SERVERS", "env:2")
    settings = load_settings(cfg)
    assert settings.kafka.bootstrap_servers == "env:2" and settings.kafka.partitions == 4
    assert load_settings(cfg, kafka__bootstrap_servers="flag:3").kafka.bootstrap_servers == "flag:3"


@pytest.mark.kafka
def test_kafka_start_status_stop(tmp_path):
    from tests.conftest import free_port

    port, controller = str(free_port()), str(free_port())
    args = ["--data-dir", str(tmp_path / "k"), "--port", port, "--controller-port", controller]
    runner = CliRunner()
    try:
        started = runner.invoke(main, ["kafka", "start", *args])
        assert started.exit_code == 0, started.output
        assert f"127.0.0.1:{port}" in started.output
        status = runner.invoke(main, ["kafka", "status", *args])
        assert status.exit_code == 0 and "answers on" in status.output and ": yes" in status.output
    finally:
        stopped = runner.invoke(main, ["kafka", "stop", *args])
    assert stopped.exit_code == 0 and "stopped" in stopped.output
    after = runner.invoke(main, ["kafka", "status", *args])
    assert after.exit_code == 1 and ": no" in after.output


def test_every_setting_is_documented():
    from nkru.settings import describe, env_name

    doc = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    for name, _default, description in describe():
        assert f"| `{name}` | `{env_name(name)}` |" in doc, f"setting {name} is missing from docs/operations.md"
        assert description, f"setting {name} has no description"


def test_config_show_masks_secrets(monkeypatch):
    monkeypatch.setenv("NKRU_KAFKA__SASL_PASSWORD", "hunter2")
    result = CliRunner().invoke(main, ["config", "show"])
    assert result.exit_code == 0 and "hunter2" not in result.output and "sasl_password" in result.output


def test_the_direct_runner_is_refused_for_the_streaming_job_before_anything_starts(tmp_path):
    result = CliRunner().invoke(main, ["process", "--runner", "direct"])
    assert result.exit_code == 2 and "runs bounded replays only" in result.output
    cfg = tmp_path / "nkru.yaml"
    cfg.write_text("process:\n  runner: DirectRunner\n")
    result = CliRunner().invoke(main, ["--config", str(cfg), "schemas", "list"])
    assert result.exit_code != 0 and "process.runner" in result.output and "bounded replays only" in result.output


def test_the_state_layout_is_single_on_prism_and_sharded_elsewhere_unless_set(tmp_path):
    from nkru.settings import ProcessSettings

    assert ProcessSettings().layout_for_runner() == "single"  # prism, the default runner
    assert ProcessSettings(runner="FlinkRunner").layout_for_runner() == "sharded"
    assert ProcessSettings(runner="FlinkRunner", layout="single").layout_for_runner() == "single"
    assert ProcessSettings(layout="sharded").layout_for_runner() == "sharded"
    cfg = tmp_path / "nkru.yaml"
    cfg.write_text("process:\n  layout: fused\n")
    result = CliRunner().invoke(main, ["--config", str(cfg), "schemas", "list"])
    assert result.exit_code != 0 and "process.layout" in result.output
