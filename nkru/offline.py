"""`nkru extract`: the per-article extraction function in a plain loop over a JSONL file (no Beam, no Kafka)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from pipeline.extraction import extract, load_ontology
from schemas.records import RawArticle

log = logging.getLogger(__name__)


def extract_lines(lines, ontology):
    """Yield (line number, output dict or None, error or None) for each non-empty input line."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            article = RawArticle.model_validate_json(line)
        except ValueError as exc:
            yield number, None, f"line {number}: not an article: {str(exc).splitlines()[0]}"
            continue
        result = extract(article, ontology)
        yield number, result.model_dump(mode="json", exclude={"schema_version"}), None


def extract_file(input_path: Path, output_path: Path, ontology_path: Path | None = None) -> tuple[int, int]:
    """Extract every line of `input_path` into `output_path`; return (articles written, lines unreadable)."""
    ontology = load_ontology(ontology_path)
    done = bad = 0
    with open(input_path, encoding="utf-8") as src, open(output_path, "w", encoding="utf-8") as out:
        for _number, row, error in extract_lines(src, ontology):
            if error:
                bad += 1
                print(f"nkru extract: {input_path}:{error}", file=sys.stderr)
                continue
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            done += 1
    return done, bad
