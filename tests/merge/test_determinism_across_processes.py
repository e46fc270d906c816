"""Same input, same events and alerts in another process: nothing may follow Python's per-process salted hash
(set and dict-of-set order), because Beam runs a stage's keys in separate worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dedup"

PROGRAM = r"""
import hashlib, json, sys
from pathlib import Path
from pipeline.alerting import alerts_batch, load_rules
from pipeline.dedup_match import deduplicate_batch
from pipeline.merge_build import merge_batch
from pipeline.stages import mentions_of
from schemas.records import Actor, EnrichedArticle, Evidence, ExtractedEvent, Location, Quantity, RawArticle

kinds = [("weapons_transfer", "Dunai", 200), ("troop_deployment", "Kursk", 1500), ("casualties", "Kursk", 300)]
articles = []
for n, path in enumerate(sorted(Path(sys.argv[1]).glob("*.json"))):
    for row in json.loads(path.read_text())["articles"]:
        kind, place, figure = kinds[(n + len(row["id"])) % 3]
        text = row["text"].split("\n")[0]
        events = [ExtractedEvent(type=kind, actors=[Actor(code="PRK"), Actor(code="RUS")],
                                 location=Location(name=place, country="RUS"),
                                 quantities={"items": Quantity(low=figure * (1 + n % 2), high=figure * (1 + n % 2))},
                                 source_of_claim=["NIS", "Kremlin"][n % 2], modality=["claimed", "confirmed"][n % 2],
                                 evidence=Evidence(text=text, start=0, end=len(text)))]
        articles.append(EnrichedArticle(article=RawArticle.model_validate(row), relevant=True, relevance_score=1.0,
                                        events=events, ontology_version="t"))
marked = deduplicate_batch(articles)
merged = merge_batch([m for a in marked for m in mentions_of(a)])
alerts = alerts_batch(merged.revisions, load_rules())
lines = sorted([a.model_dump_json() for a in marked] + [e.model_dump_json() for e in merged.revisions + merged.events]
               + [a.model_dump_json() for a in alerts])
print(len(merged.revisions), len(alerts), hashlib.sha256("\n".join(lines).encode()).hexdigest())
"""


def run_with_hash_seed(seed: str) -> str:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    done = subprocess.run([sys.executable, "-c", PROGRAM, str(FIXTURES)], env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    return done.stdout.strip()


def test_two_processes_with_different_hash_seeds_agree():
    first, second = run_with_hash_seed("1"), run_with_hash_seed("2")
    revisions, alerts, _ = first.split()
    assert int(revisions) >= 5 and int(alerts) >= 2
    assert first == second
