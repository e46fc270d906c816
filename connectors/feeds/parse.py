"""Raw feed bytes → `ParsedDocument` (articles, dead letters, entries seen). Pure: no clock, network or files.

Never raises. Documents that are too large, not feeds, ill-formed, wrongly encoded or carry entity tricks
yield dead letters (stage 'parse', payload_ref = `ref`); the entries that parsed are kept.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import feedparser
from feedparser.exceptions import (
    CharacterEncodingOverride,
    CharacterEncodingUnknown,
    NonXMLContentType,
)

from connectors.feeds import xmlguard
from connectors.feeds.normalize import DocumentContext, EntryRejected, entry_to_article, normalise_language
from connectors.feeds.registry import FeedConfig
from connectors.feeds.text import to_text
from connectors.feeds.urls import canonical_url
from schemas.records import DeadLetter, RawArticle

log = logging.getLogger(__name__)

CONNECTOR_VERSION = "1"
STAGE = "parse"
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
MAX_ENTRIES = 5000
PAYLOAD_CHARS = 64 * 1024
VERSIONS = {"feedparser": feedparser.__version__, "connector": CONNECTOR_VERSION}


@dataclass
class ParsedDocument:
    """What one document gave: articles, dead letters, and counts to account for every entry."""

    articles: list[RawArticle] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    entries: int = 0  # entries feedparser saw
    duplicates: int = 0  # entries whose id an earlier entry of the same document already had
    skipped: int = 0  # entries beyond MAX_ENTRIES (reported in one dead letter)
    format: str = ""  # feedparser's version string ('rss20', 'atom10', 'json1', …) or ''
    title: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return [d.reason for d in self.dead_letters]


def _dead_letter(reason: str, ref: str, error: str | None = None, payload: str | None = None) -> DeadLetter:
    return DeadLetter(stage=STAGE, reason=reason, error=error[:2000] if error else None,
                      payload=payload[:PAYLOAD_CHARS] if payload else None, payload_ref=ref,
                      versions=VERSIONS)


def _payload(data: bytes) -> str:
    return data[:PAYLOAD_CHARS].decode("utf-8", "replace")


def _lower_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (headers or {}).items()}


def _json_feed(data: bytes) -> dict[str, Any] | None:
    """A JSON Feed (jsonfeed.org) read into feedparser's shape; None when the body is not one."""
    if data.lstrip()[:1] != b"{":
        return None
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or "jsonfeed.org" not in str(doc.get("version", "")):
        return None
    entries = []
    for item in doc.get("items") or []:
        if not isinstance(item, dict):
            entries.append({})
            continue
        html, plain = item.get("content_html"), item.get("content_text")
        body = [{"value": html, "type": "text/html"}] if isinstance(html, str) else (
            [{"value": plain, "type": "text/plain"}] if isinstance(plain, str) else [])
        entries.append({"id": str(item["id"]) if item.get("id") is not None else None,
                        "link": item.get("url") if isinstance(item.get("url"), str) else None,
                        "title": item.get("title") if isinstance(item.get("title"), str) else "",
                        "title_detail": {"type": "text/plain"}, "content": body,
                        "summary": item.get("summary") if isinstance(item.get("summary"), str) else "",
                        "summary_detail": {"type": "text/plain"},
                        "published": item.get("date_published"), "updated": item.get("date_modified"),
                        "language": item.get("language")})
    return {"version": "json1", "bozo": False, "entries": entries,
            "feed": {"title": doc.get("title"), "link": doc.get("home_page_url"), "language": doc.get("language")}}


def _run_feedparser(data: bytes, headers: dict[str, str]) -> Any:
    # A file-like object: given bytes, feedparser would first try to open them as a local path.
    return feedparser.parse(io.BytesIO(data), response_headers=headers, sanitize_html=True,
                            resolve_relative_uris=False)


def _bozo(result: Any, ref: str, data: bytes, out: ParsedDocument) -> None:
    exc = result.get("bozo_exception") if result.get("bozo") else None
    if not result.get("entries") and not result.get("version"):
        out.dead_letters.append(_dead_letter("not_a_feed", ref, repr(exc) if exc else "no feed or entries found",
                                             _payload(data)))
    elif exc is None:
        return
    elif isinstance(exc, NonXMLContentType):
        out.warnings.append(f"content_type: {exc}")
    elif isinstance(exc, (CharacterEncodingOverride, CharacterEncodingUnknown)):
        out.dead_letters.append(_dead_letter("encoding", ref, str(exc), _payload(data)))
    else:
        out.dead_letters.append(_dead_letter("ill_formed", ref, f"{type(exc).__name__}: {exc}", _payload(data)))


def _entry_payload(entry: Mapping[str, Any]) -> str:
    keys = ("id", "link", "title", "published", "updated", "summary")
    fields = {k: dict.get(entry, k) if isinstance(entry, dict) else entry.get(k) for k in keys}
    return json.dumps({k: v for k, v in fields.items() if isinstance(v, str)}, ensure_ascii=False)


def _context(result: Any, *, ref: str, fetched_at: datetime, base: str | None, feed: FeedConfig | None
             ) -> DocumentContext:
    channel = result.get("feed") or {}
    channel_link = canonical_url(channel.get("link"), base)
    title = to_text(channel.get("title") or "", "text/html")[:300]
    return DocumentContext(fetched_at=fetched_at, ref=ref, base_url=base or channel_link, feed=feed,
                           feed_language=normalise_language(channel.get("language")),
                           scope=channel_link or (feed.id if feed else "") or title, outlet=title or None)


def _collect(result: Any, ctx: DocumentContext, out: ParsedDocument) -> None:
    entries = list(result.get("entries") or [])
    out.entries = len(entries)
    if len(entries) > MAX_ENTRIES:
        out.skipped = len(entries) - MAX_ENTRIES
        out.dead_letters.append(_dead_letter("too_many_entries", ctx.ref,
                                             f"{len(entries)} entries; only the first {MAX_ENTRIES} kept"))
        entries = entries[:MAX_ENTRIES]
    seen: set[str] = set()
    for entry in entries:
        try:
            article = entry_to_article(entry, ctx)
        except EntryRejected as exc:
            out.dead_letters.append(_dead_letter(exc.reason, ctx.ref, exc.detail, _entry_payload(entry)))
            continue
        except Exception as exc:  # noqa: BLE001 - one odd entry must not cost the others
            out.dead_letters.append(_dead_letter("invalid_entry", ctx.ref, f"{type(exc).__name__}: {exc}",
                                                 _entry_payload(entry)))
            continue
        if article.id in seen:
            out.duplicates += 1
            continue
        seen.add(article.id)
        out.articles.append(article)


def parse_document(data: bytes, *, ref: str, fetched_at: datetime, headers: Mapping[str, str] | None = None,
                   feed: FeedConfig | None = None) -> ParsedDocument:
    """Parse one raw feed document into articles and dead letters; never raises."""
    out = ParsedDocument()
    try:
        if len(data) > MAX_DOCUMENT_BYTES:
            out.dead_letters.append(_dead_letter(
                "oversize", ref, f"{len(data)} bytes > {MAX_DOCUMENT_BYTES}", _payload(data)))
            return out
        hdrs = _lower_headers(headers)
        base = canonical_url(hdrs.get("content-location"), canonical_url(ref)) or canonical_url(ref) or (
            canonical_url(feed.url) if feed else None)
        if base:
            hdrs["content-location"] = base
        screened = xmlguard.screen(data)
        for reason, detail in screened.problems:
            out.dead_letters.append(_dead_letter(reason, ref, detail, _payload(data)))
        if screened.transcoded:
            hdrs["content-type"] = "application/xml; charset=utf-8"
        result = _json_feed(screened.data) or _run_feedparser(screened.data, hdrs)
        out.format = result.get("version") or ""
        out.title = to_text((result.get("feed") or {}).get("title") or "", "text/html")[:300]
        _bozo(result, ref, data, out)
        _collect(result, _context(result, ref=ref, fetched_at=fetched_at, base=base, feed=feed), out)
    except Exception as exc:
        log.exception("parse_document failed on %s", ref)
        out.dead_letters.append(_dead_letter("internal_error", ref, f"{type(exc).__name__}: {exc}", _payload(data)))
    return out


def entry_dead_letters(doc: ParsedDocument) -> int:
    """Dead letters that stand for one entry each (for accounting: articles + these + duplicates + skipped)."""
    return sum(1 for d in doc.dead_letters if d.reason in ("empty_entry", "invalid_entry"))
