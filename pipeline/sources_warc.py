"""WARC files → RawArticle and DeadLetter records: response (and resource) records of feed documents go
through the feed parser, article HTML pages become one article each (title, main text, published time).

The fetch time of a record is its WARC-Date; a page's event time is its published meta tag, else the
fetch time (marked `published_inferred`). Records that are neither feeds nor pages, non-2xx responses and
pages without title or text are dead letters (stage "replay_source"); request, metadata, warcinfo and
revisit records are counted, not read. A page and a feed item of the same article in one WARC file make one
article: the feed item, with the page's text when it is longer (`pipeline.sources_read.read_unit`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from html.parser import HTMLParser

from pipeline.sources import InputFile
from pipeline.sources_read import STAGE, Counts, PageArticle, Record, read_document
from pipeline.stages import dead_letter
from schemas.records import RawArticle, parse_timestamp

MAX_BODY_BYTES = 16 * 1024 * 1024
HEAD_CHARS = 256 * 1024
FUTURE_TOLERANCE = timedelta(days=2)
_FEED_MARKERS = re.compile(rb"<(rss|feed|rdf:RDF|channel)[\s>]", re.IGNORECASE)
_HTML_MARKERS = re.compile(rb"<(!doctype\s+html|html)[\s>]", re.IGNORECASE)
_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)
_PUBLISHED_KEYS = ("article:published_time", "og:article:published_time", "datepublished", "pubdate",
                   "publishdate", "date", "dc.date", "dc.date.issued", "dcterms.created", "parsely-pub-date",
                   "sailthru.date")
log = logging.getLogger(__name__)


def read_warc(file: InputFile, counts: Counts) -> Iterator[Record | PageArticle]:
    from warcio.archiveiterator import ArchiveIterator

    counts.add("warc_files")
    with open(file.path, "rb") as fh:
        records = ArchiveIterator(fh)
        for record in records:
            if record.rec_type not in ("response", "resource"):
                counts.add("warc_other_records")
                continue
            counts.add("warc_records")
            body = record.content_stream().read(MAX_BODY_BYTES + 1)
            # the offset only after the content: asking for it first makes warcio skip the record
            yield from _read_record(record, body, f"{file.path}#{records.get_record_offset()}", counts)


def _read_record(record, body: bytes, ref: str, counts: Counts) -> Iterator[Record | PageArticle]:
    uri = record.rec_headers.get_header("WARC-Target-URI") or ""
    fetched = parse_timestamp(record.rec_headers.get_header("WARC-Date"))
    http = record.http_headers
    status = http.get_statuscode() if http is not None else "200"
    ctype = (http.get_header("Content-Type") if http is not None else None) or \
        record.rec_headers.get_header("Content-Type") or ""
    if not status.startswith("2") or fetched is None:
        counts.add("document_dead_letters")
        why = f"HTTP status {status}" if fetched is not None else "record without a valid WARC-Date"
        yield dead_letter(STAGE, "record_not_readable", why, payload_ref=ref)
        return
    kind = content_kind(ctype, body)
    if kind == "feed":
        headers = {"content-type": ctype, "content-location": uri}
        yield from read_document(body, ref, fetched, counts, headers=headers)
    elif kind == "page":
        counts.add("pages")
        result = page_article(body, uri, fetched, ref, ctype)
        if isinstance(result, RawArticle):
            counts.add("articles_read")
            yield PageArticle(result)
        else:
            counts.add("item_dead_letters")
            yield result
    else:
        counts.add("document_dead_letters")
        yield dead_letter(STAGE, "unsupported_content", f"neither a feed nor an HTML page: {ctype!r}",
                          body[:4096], payload_ref=ref)


def content_kind(content_type: str, body: bytes) -> str:
    """'feed', 'page' or 'other', from the media type and the first bytes."""
    ctype = content_type.split(";")[0].strip().lower()
    start = body[:2048]
    if "html" in ctype and not _FEED_MARKERS.search(start):
        return "page"
    if "xml" in ctype or "rss" in ctype or "atom" in ctype or "json" in ctype:
        return "feed"
    if _FEED_MARKERS.search(start):
        return "feed"
    if _HTML_MARKERS.search(start):
        return "page"
    return "other"


class _PageMeta(HTMLParser):
    """<html lang>, <title>, <meta name|property|itemprop=… content=…> of a page's head."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.title = ""
        self.meta: dict[str, str] = {}
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        values = {k.lower(): v for k, v in attrs if v is not None}
        if tag == "html" and values.get("lang"):
            self.lang = values["lang"]
        elif tag == "title":
            self._in_title = True
        elif tag == "meta" and "content" in values:
            name = (values.get("property") or values.get("name") or values.get("itemprop") or "").lower()
            if name:
                self.meta.setdefault(name, values["content"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def _decode(body: bytes, content_type: str) -> str:
    match = _CHARSET.search(content_type) or _CHARSET.search(body[:2048].decode("ascii", "replace"))
    try:
        return body.decode(match.group(1) if match else "utf-8", "replace")
    except LookupError:
        return body.decode("utf-8", "replace")


def main_text(html: str, url: str | None) -> str:
    """The main text of an article page (trafilatura, precision first, no cross-document dedup), cleaned."""
    from connectors.feeds.text import to_text

    try:
        import trafilatura
    except ImportError:  # without trafilatura the whole page's text stands in
        return to_text(html, "text/html")
    logging.getLogger("trafilatura").setLevel(logging.WARNING)
    try:
        text = trafilatura.extract(html, url=url, include_comments=False, include_tables=False,
                                   favor_precision=True, deduplicate=False, output_format="txt")
    except Exception as exc:  # noqa: BLE001 - an extractor failure leaves the page without main text
        log.debug("trafilatura failed on %s: %s", url, exc)
        return ""
    return to_text(text or "", "text/plain")


def page_article(body: bytes, uri: str, fetched_at: datetime, ref: str, content_type: str = "") -> Record:
    """An article HTML page → RawArticle (id = canonical URL), or a dead letter when it has no title or text."""
    from connectors.feeds.normalize import article_id, detect_language, normalise_language, parse_date
    from connectors.feeds.text import to_text
    from connectors.feeds.urls import canonical_url, host_of

    if len(body) > MAX_BODY_BYTES:
        return dead_letter(STAGE, "oversize", f"page larger than {MAX_BODY_BYTES} bytes", payload_ref=ref)
    html = _decode(body, content_type)
    meta = _PageMeta()
    head_end = html.find("</head>")
    meta.feed(html[: head_end + 7 if head_end >= 0 else HEAD_CHARS])
    url = canonical_url(uri)
    title = to_text(meta.meta.get("og:title") or meta.title, "text/plain")[:2000]
    text = main_text(html, url) or to_text(meta.meta.get("og:description") or meta.meta.get("description") or "",
                                           "text/plain")
    if not (title or text):
        return dead_letter(STAGE, "empty_page", "no title and no main text", body[:4096], payload_ref=ref)
    published = next((parse_date(meta.meta[k], None, None) for k in _PUBLISHED_KEYS if meta.meta.get(k)), None)
    inferred = published is None or published > fetched_at + FUTURE_TOLERANCE
    if inferred:
        published = fetched_at
    outlet = meta.meta.get("og:site_name") or (host_of(url) if url else None)
    language = normalise_language(meta.lang) or detect_language(f"{title}\n{text}")
    return RawArticle(id=article_id(url, None, outlet or "", title, text, None if inferred else published),
                      url=url, title=title, text=text, published=published, published_inferred=inferred,
                      language=language, outlet=outlet, fetched_at=fetched_at, origin=ref)
