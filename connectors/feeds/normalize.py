"""One feedparser entry → `RawArticle`: canonical id, clean text, UTC dates, language, outlet.

Pure: the fetch time is given. An entry that cannot become an article raises `EntryRejected` with a reason.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any

from pydantic import ValidationError

from connectors.feeds.registry import FeedConfig
from connectors.feeds.text import to_text
from connectors.feeds.urls import canonical_url
from schemas.records import RawArticle

_HAS_ZONE = re.compile(r"(Z|[+-]\d{2}:?\d{2}|\b(GMT|UTC|UT|[ECMP][SD]T)\b)\s*$", re.IGNORECASE)
_LANG = re.compile(r"^\s*([A-Za-z]{2,3})(?:[-_][A-Za-z0-9-]*)?\s*$")
_GLOBAL_GUID = re.compile(r"^(urn:|tag:)", re.IGNORECASE)
FUTURE_TOLERANCE = timedelta(days=2)
MIN_DETECT_CHARS = 24
_langid_lock = threading.Lock()
_langid: Any = None


class EntryRejected(ValueError):
    """An entry that cannot become an article; `reason` is a short stable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class DocumentContext:
    """What normalisation needs to know about the document an entry came from."""

    fetched_at: datetime
    ref: str
    base_url: str | None = None
    feed: FeedConfig | None = None
    feed_language: str | None = None
    scope: str = ""
    outlet: str | None = None


def normalise_language(code: Any) -> str | None:
    """'en-US' → 'en'; None when it is no language tag."""
    if not isinstance(code, str):
        return None
    match = _LANG.match(code)
    return match.group(1).lower() if match else None


def detect_language(text: str) -> str | None:
    """ISO 639-1 code guessed by py3langid from enough text, else None."""
    global _langid
    if len(text.strip()) < MIN_DETECT_CHARS:
        return None
    with _langid_lock:
        if _langid is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _langid = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    lang, prob = _langid.classify(text[:2000])
    return lang if prob >= 0.5 else None


def parse_date(raw: Any, parsed: Any, zone: tzinfo | None) -> datetime | None:
    """A feed date as aware UTC: RFC 822 and ISO 8601 first, then feedparser's reading.

    A date without an offset is read in the feed's zone (`zone`), else as UTC.
    """
    local = zone or UTC
    if isinstance(raw, str) and raw.strip():
        text = raw.strip()
        for reader in (parsedate_to_datetime, datetime.fromisoformat):
            try:
                value = reader(text)
            except (TypeError, ValueError, IndexError, OverflowError):
                continue
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC if "-0000" in text else local)
            return _sane(value.astimezone(UTC))
    if parsed:
        try:
            value = datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
        except (TypeError, ValueError, OverflowError):
            return None
        if zone is not None and isinstance(raw, str) and not _HAS_ZONE.search(raw):
            value = value.replace(tzinfo=None).replace(tzinfo=zone).astimezone(UTC)
        return _sane(value)
    return None


def _sane(value: datetime) -> datetime | None:
    return value if 1900 <= value.year <= 2200 else None


def _entry_time(entry: Mapping[str, Any], ctx: DocumentContext) -> tuple[datetime, bool]:
    zone = ctx.feed.tzinfo if ctx.feed else None
    for key in ("published", "updated", "created"):
        # dict.get: FeedParserDict.get maps 'updated' to 'published' with a DeprecationWarning
        value = parse_date(dict.get(entry, key), dict.get(entry, f"{key}_parsed"), zone)
        if value is not None and value <= ctx.fetched_at + FUTURE_TOLERANCE:
            return value, False
    return ctx.fetched_at, True


def _body(entry: Mapping[str, Any]) -> tuple[str, str]:
    """The richest text the entry carries (content over summary) and its media type."""
    best, best_type = "", "text/html"
    for item in entry.get("content") or []:
        value = item.get("value") or ""
        if isinstance(value, str) and len(value) > len(best):
            best, best_type = value, item.get("type") or "text/html"
    summary = entry.get("summary") or ""
    if isinstance(summary, str) and len(summary) > len(best):
        detail = entry.get("summary_detail") or {}
        best, best_type = summary, detail.get("type") or "text/html"
    return best, best_type


def _language(entry: Mapping[str, Any], ctx: DocumentContext, title: str, text: str) -> str | None:
    for detail in ("content", "summary_detail", "title_detail"):
        value = entry.get(detail)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, Mapping) and normalise_language(value.get("language")):
            return normalise_language(value.get("language"))
    declared = normalise_language(ctx.feed.language if ctx.feed else None) or ctx.feed_language
    return declared or detect_language(f"{title}\n{text}")


def article_id(url: str | None, guid: str | None, scope: str, title: str, text: str,
               published: datetime | None) -> str:
    """Canonical URL, else the GUID (as a URL, globally unique, or scoped to its feed), else a content hash."""
    if url:
        return url
    if guid:
        as_url = canonical_url(guid)
        if as_url:
            return as_url
        return f"guid:{guid}" if _GLOBAL_GUID.match(guid) else f"guid:{scope}:{guid}"
    digest = hashlib.sha256("\x1f".join([scope, title, text, published.isoformat() if published else ""])
                            .encode("utf-8", "replace")).hexdigest()
    return f"sha256:{digest[:32]}"


def entry_to_article(entry: Mapping[str, Any], ctx: DocumentContext) -> RawArticle:
    """Build the article of one entry; EntryRejected('empty_entry' | 'invalid_entry') when it cannot."""
    title_detail = entry.get("title_detail") or {}
    title = to_text(entry.get("title") or "", title_detail.get("type") or "text/html")[:2000]
    raw_body, body_type = _body(entry)
    text = to_text(raw_body, body_type)
    link = entry.get("link")
    if entry.get("guidislink") and link == entry.get("id") and canonical_url(link) is None:
        link = None  # feedparser took a non-URL GUID for the link
    url = canonical_url(link, ctx.base_url)
    guid = entry.get("id") if isinstance(entry.get("id"), str) and entry.get("id").strip() else None
    guid = guid.strip()[:2000] if guid else None
    if not (title or text or url or guid):
        raise EntryRejected("empty_entry", "no title, text, link or guid")
    published, inferred = _entry_time(entry, ctx)
    try:
        return RawArticle(
            id=article_id(url, guid, ctx.scope, title, text, None if inferred else published),
            url=url, title=title, text=text, published=published, published_inferred=inferred,
            language=_language(entry, ctx, title, text),
            outlet=ctx.feed.outlet if ctx.feed else ctx.outlet, feed_id=ctx.feed.id if ctx.feed else None,
            fetched_at=ctx.fetched_at, guid=guid, origin=ctx.ref)
    except ValidationError as exc:
        raise EntryRejected("invalid_entry", str(exc)[:500]) from None
