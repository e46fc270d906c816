"""Replay inputs: paths → an inventory of files (feed documents, entries exports, JSONL articles, WARC files)
with fetch times and sizes, grouped into read units; files that are no input (README, LICENSE…) are listed
as skipped with the reason, so every file under a path is accounted for.

Kinds are decided by name here and confirmed by content when read (`pipeline.sources_read`): a `.jsonl`
file holds articles, a `.warc`/`.warc.gz` file holds crawl records, anything else is a document (an RSS,
Atom, RDF or JSON feed, or a JSON export of already-parsed entries).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path

from schemas.records import RawArticle

DOCUMENT, JSONL, WARC = "document", "jsonl", "warc"
DOCUMENTS_PER_UNIT = 32
_STAMP = re.compile(r"(\d{8}T\d{6}Z)")
_NOT_INPUT = ("README", "LICENSE", "LICENCE", "COPYING", "NOTICE", "SOURCE_COMMIT", "MANIFEST")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class SourceError(ValueError):
    """A replay source is unusable (missing path); the message names it."""


@dataclass(frozen=True)
class InputFile:
    path: str
    kind: str
    fetched_at: str  # ISO 8601, UTC: the stamp in the file name, else the file's mtime
    size: int


@dataclass(frozen=True)
class ReadUnit:
    """Files read one after the other by one worker: documents of one directory in fetch-time order."""

    files: tuple[InputFile, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


@dataclass
class Inventory:
    files: list[InputFile] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # path → why it is not read

    @property
    def empty(self) -> bool:
        return not self.files

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def count(self, kind: str) -> int:
        return sum(f.kind == kind for f in self.files)

    def units(self, per_unit: int = DOCUMENTS_PER_UNIT) -> list[ReadUnit]:
        """Documents of one directory in chunks of `per_unit` (fetch-time order); one unit per other file."""
        units: list[ReadUnit] = []
        docs = sorted((f for f in self.files if f.kind == DOCUMENT),
                      key=lambda f: (os.path.dirname(f.path), f.fetched_at, f.path))
        for _, group in groupby(docs, key=lambda f: os.path.dirname(f.path)):
            batch = list(group)
            units.extend(ReadUnit(tuple(batch[i:i + per_unit])) for i in range(0, len(batch), per_unit))
        units.extend(ReadUnit((f,)) for f in sorted(self.files, key=lambda f: f.path) if f.kind != DOCUMENT)
        return units


def fetch_time_of(path: Path) -> datetime:
    """The fetch time of an archived file: a YYYYMMDDTHHMMSSZ stamp in its name, else its mtime (UTC)."""
    match = _STAMP.search(path.name)
    if match:
        return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


def kind_of(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".jsonl"):
        return JSONL
    if name.endswith((".warc", ".warc.gz")):
        return WARC
    return DOCUMENT


def not_input_reason(path: Path) -> str | None:
    """Why a file found in a directory tree is not read (None when it is input)."""
    if path.name.startswith("."):
        return "hidden file"
    if path.name.upper().startswith(_NOT_INPUT):
        return "not input: README/LICENSE-like file"
    if not path.is_file():
        return "not a regular file"
    return None


def discover(paths: list[Path]) -> Inventory:
    """Every file under `paths`: input files by kind, and the rest with the reason it is not read."""
    inventory = Inventory()
    seen: set[str] = set()
    for root in paths:
        if not root.exists():
            raise SourceError(f"replay source {root} does not exist")
        explicit = root.is_file()
        for path in [root] if explicit else _walk(root):
            key = str(path)
            if key in seen:
                continue
            seen.add(key)
            reason = None if explicit else not_input_reason(path)
            if reason:
                inventory.skipped[key] = reason
                continue
            inventory.files.append(InputFile(key, kind_of(path), fetch_time_of(path).isoformat(),
                                             path.stat().st_size))
    return inventory


def _walk(root: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(dirnames)
        found.extend(Path(dirpath) / name for name in sorted(filenames))
    return found


def list_documents(root: Path) -> list[Path]:
    """Every input file under `root` (sorted; hidden and README/LICENSE-like files left out)."""
    return [Path(f.path) for f in discover([root]).files]


def _head(article: RawArticle) -> tuple:
    return (article.fetched_at is None, article.fetched_at or _EPOCH, article.origin or "",
            article.source_position or "")


def snapshot_rank(article: RawArticle) -> tuple:
    """The order in which repeated records of one article are preferred: earliest fetch, then origin, then content.

    Total and independent of arrival order, so the record kept for an id is the same on every run.
    """
    return _head(article) + (article.model_dump_json(),)


def earlier(a: RawArticle, b: RawArticle) -> RawArticle:
    """Of two records of one article, the one a replay keeps (the smaller `snapshot_rank`)."""
    head_a, head_b = _head(a), _head(b)
    if head_a != head_b:
        return a if head_a < head_b else b
    return a if a.model_dump_json() <= b.model_dump_json() else b
