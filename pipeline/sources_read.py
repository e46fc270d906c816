"""One replay input file → RawArticle and DeadLetter records, with counts that account for every item read.

Pure apart from reading the file (no Beam, no clock). A feed document goes through
`connectors.feeds.parse.parse_document`; a JSON list of already-parsed entries (title, description, link,
date_published, source) through the same entry normaliser; JSONL lines are RawArticle records; WARC files
are read by `pipeline.sources_warc`. A file that cannot be read is one dead letter (stage "replay_source").
Within a read unit each article id is kept once, the earliest snapshot (`pipeline.sources.earlier`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pipeline.sources import JSONL, WARC, InputFile, ReadUnit, earlier
from pipeline.stages import dead_letter, decode_raw_article
from schemas.records import DeadLetter, RawArticle

STAGE = "replay_source"
_JSON_ARRAY = re.compile(rb"\s*\[")
_ENTRY_KEYS = frozenset({"link", "date_published", "description"})

Record = RawArticle | DeadLetter


@dataclass(frozen=True)
class PageArticle:
    """An article read from its HTML page (WARC): within a read unit it lends its text to the feed item with
    the same id (when longer), as live full-text enrichment does; alone it is an article like any other."""

    article: RawArticle


class Counts(Protocol):
    def add(self, name: str, n: int = 1) -> None: ...


class Tally(Counter):
    """In-memory `Counts` (tests, plain loops)."""

    def add(self, name: str, n: int = 1) -> None:
        self[name] += n


def read_unit(unit: ReadUnit, counts: Counts) -> Iterator[Record]:
    """Every file of `unit`, in order; an article id repeated within the unit is kept once (the earliest), with
    the text of its HTML page when the unit holds that page too and its text is longer."""
    if len(unit.files) == 1 and unit.files[0].kind == JSONL:  # streamed: a JSONL file can be any size
        yield from read_input(unit.files[0], counts)
        return
    kept: dict[str, RawArticle] = {}
    pages: dict[str, RawArticle] = {}
    for file in unit.files:
        for record in read_input(file, counts):
            if isinstance(record, DeadLetter):
                yield record
                continue
            into = pages if isinstance(record, PageArticle) else kept
            article = record.article if isinstance(record, PageArticle) else record
            known = into.get(article.id)
            if known is not None:
                counts.add("repeats_in_unit")
                article = earlier(known, article)
            into[article.id] = article
    for page in pages.values():
        feed_item = kept.get(page.id)
        if feed_item is None:
            kept[page.id] = page
            continue
        counts.add("repeats_in_unit")
        counts.add("pages_merged")
        if len(page.text) > len(feed_item.text):
            kept[page.id] = feed_item.model_copy(update={"text": page.text})
    yield from kept.values()


def read_input(file: InputFile, counts: Counts) -> Iterator[Record]:
    """The records of one file; its bytes are counted once it is read (progress)."""
    counts.add("files_read")
    try:
        if file.kind == JSONL:
            yield from _read_jsonl(file, counts)
        elif file.kind == WARC:
            from pipeline.sources_warc import read_warc

            yield from read_warc(file, counts)
        else:
            data = Path(file.path).read_bytes()
            yield from read_document(data, file.path, datetime.fromisoformat(file.fetched_at), counts)
    except OSError as exc:
        counts.add("document_dead_letters")
        yield dead_letter(STAGE, "file could not be read", exc, payload_ref=file.path)
    finally:
        counts.add("bytes", file.size)


def read_document(data: bytes, ref: str, fetched_at: datetime, counts: Counts,
                  headers: dict[str, str] | None = None) -> Iterator[Record]:
    """A feed document, or a JSON export of parsed entries (recognised by its content)."""
    items = entries_export(data)
    if items is not None:
        counts.add("entries_exports")
        yield from export_articles(items, ref, fetched_at, counts)
        return
    from connectors.feeds.parse import entry_dead_letters, parse_document

    counts.add("feed_documents")
    parsed = parse_document(data, ref=ref, fetched_at=fetched_at, headers=headers)
    per_entry = entry_dead_letters(parsed)
    counts.add("entries", parsed.entries)
    counts.add("articles_read", len(parsed.articles))
    counts.add("duplicates_in_document", parsed.duplicates)
    counts.add("over_entry_limit", parsed.skipped)
    counts.add("item_dead_letters", per_entry)
    counts.add("document_dead_letters", len(parsed.dead_letters) - per_entry)
    yield from parsed.articles
    yield from parsed.dead_letters


def entries_export(data: bytes) -> list | None:
    """The entries of a JSON export (a list of objects with link/description/date_published), else None."""
    if not _JSON_ARRAY.match(data):
        return None
    try:
        items = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(items, list):
        return None
    if items and not any(isinstance(item, dict) and _ENTRY_KEYS & item.keys() for item in items):
        return None
    return items


def export_articles(items: list, ref: str, fetched_at: datetime, counts: Counts) -> Iterator[Record]:
    """Exported entries → articles through the feed normaliser (same ids, text cleaning and dates as live)."""
    from connectors.feeds.normalize import EntryRejected

    seen: set[str] = set()
    counts.add("entries", len(items))
    for index, item in enumerate(items):
        where = f"{ref}#{index}"
        try:
            article = export_entry_article(item, ref, fetched_at)
        except EntryRejected as exc:
            counts.add("item_dead_letters")
            yield dead_letter(STAGE, exc.reason, exc.detail or None, item, payload_ref=where)
            continue
        except Exception as exc:  # noqa: BLE001 - one odd entry must not cost the others
            counts.add("item_dead_letters")
            yield dead_letter(STAGE, "invalid_entry", exc, item, payload_ref=where)
            continue
        if article.id in seen:
            counts.add("duplicates_in_document")
            continue
        seen.add(article.id)
        counts.add("articles_read")
        yield article


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def export_entry_article(item: Any, ref: str, fetched_at: datetime) -> RawArticle:
    """One exported entry → RawArticle; EntryRejected when it cannot be one."""
    from connectors.feeds.normalize import DocumentContext, EntryRejected, entry_to_article, normalise_language
    from connectors.feeds.urls import canonical_url, host_of

    if not isinstance(item, dict):
        raise EntryRejected("invalid_entry", f"an entry must be a JSON object, not {type(item).__name__}")
    source = _text(item.get("source"))
    feed_url = canonical_url(source)
    entry = {"title": _text(item.get("title")) or "", "title_detail": {"type": "text/plain"},
             "summary": _text(item.get("description")) or "", "summary_detail": {"type": "text/html"},
             "link": _text(item.get("link")), "id": _text(item.get("id")) or _text(item.get("guid")),
             "published": _text(item.get("date_published")), "updated": _text(item.get("date_modified"))}
    outlet = _text(item.get("outlet")) or _text(item.get("album")) or (host_of(feed_url) if feed_url else None)
    ctx = DocumentContext(fetched_at=fetched_at, ref=ref, base_url=feed_url,
                          feed_language=normalise_language(item.get("language")),
                          scope=feed_url or source or "", outlet=outlet)
    return entry_to_article(entry, ctx)


def parse_article_line(line: str, ref: str) -> Record | None:
    """One JSONL line (id, url, title, text, published, language, outlet; unknown fields ignored)."""
    if not line.strip():
        return None
    result = decode_raw_article(line, payload_ref=ref)
    if isinstance(result, RawArticle) and result.origin is None:
        result = result.model_copy(update={"origin": ref})
    return result


def _read_jsonl(file: InputFile, counts: Counts) -> Iterator[Record]:
    counts.add("jsonl_files")
    with open(file.path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            result = parse_article_line(raw.decode("utf-8", "replace"), f"{file.path}:{number}")
            if result is None:
                continue
            counts.add("lines")
            counts.add("articles_read" if isinstance(result, RawArticle) else "item_dead_letters")
            yield result
