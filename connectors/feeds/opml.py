"""OPML ↔ registry: import an OPML subscription list into a `Registry`, export a registry as OPML 2.0.

Outline folders become tags. Entity tricks in the OPML are refused (no DTD is ever resolved).
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

from pydantic import ValidationError

from connectors.feeds import xmlguard
from connectors.feeds.registry import FeedConfig, Registry
from connectors.feeds.urls import canonical_url


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:60]


def _unique_id(title: str, url: str, taken: set[str]) -> str:
    host = (urlsplit(url).hostname or "feed").removeprefix("www.")
    base = _slug(title) or _slug(host) or "feed"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def _outlines(node: ET.Element, folders: tuple[str, ...] = ()) -> list[tuple[ET.Element, tuple[str, ...]]]:
    found = []
    for child in node.findall("outline"):
        if child.get("xmlUrl"):
            found.append((child, folders))
        label = child.get("text") or child.get("title")
        found.extend(_outlines(child, folders + ((label,) if label and not child.get("xmlUrl") else ())))
    return found


def parse_opml(data: bytes) -> ET.Element:
    screened = xmlguard.screen(data)
    if screened.problems:
        raise ValueError("refused: " + "; ".join(detail for _, detail in screened.problems))
    try:
        root = ET.fromstring(screened.data)
    except ET.ParseError as exc:
        raise ValueError(f"not well-formed OPML: {exc}") from None
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise ValueError("not an OPML document (no <opml><body>)")
    return body


def import_opml(data: bytes, base: Registry, language: str | None = None
                ) -> tuple[Registry, list[FeedConfig], list[str]]:
    """The registry with the OPML's feeds added; (registry, feeds added, URLs already present or invalid)."""
    body = parse_opml(data)
    known_urls = {canonical_url(f.url) for f in base.feeds}
    taken = {f.id for f in base.feeds}
    added: list[FeedConfig] = []
    skipped: list[str] = []
    for outline, folders in _outlines(body):
        url = (outline.get("xmlUrl") or "").strip()
        key = canonical_url(url)
        if key is None or key in known_urls:
            skipped.append(url)
            continue
        title = (outline.get("title") or outline.get("text") or urlsplit(url).hostname or url).strip()
        categories = [c.strip("/ ") for c in (outline.get("category") or "").split(",") if c.strip("/ ")]
        tags = tuple(dict.fromkeys(_slug(t) for t in (*folders, *categories) if _slug(t)))
        lang = outline.get("language") or language
        try:
            feed = FeedConfig(id=_unique_id(title, url, taken), url=url, outlet=title[:200], title=title[:200],
                              site=outline.get("htmlUrl") if canonical_url(outline.get("htmlUrl")) else None,
                              language=lang.lower() if lang else None, tags=tags)
        except ValidationError:
            skipped.append(url)
            continue
        known_urls.add(key)
        added.append(feed)
    return Registry(version=base.version, feeds=(*base.feeds, *added)), added, skipped


def export_opml(registry: Registry, title: str = "nkru-monitor feeds") -> str:
    """OPML 2.0 text; feeds grouped in folders by their first tag."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC), usegmt=True)
    body = ET.SubElement(root, "body")
    folders: dict[str, ET.Element] = {}
    for feed in registry.feeds:
        parent = body
        if feed.tags:
            folder = feed.tags[0]
            if folder not in folders:
                folders[folder] = ET.SubElement(body, "outline", text=folder, title=folder)
            parent = folders[folder]
        attrs = {"type": "rss", "text": feed.title or feed.outlet, "title": feed.title or feed.outlet,
                 "xmlUrl": feed.url}
        if feed.site:
            attrs["htmlUrl"] = feed.site
        if feed.language:
            attrs["language"] = feed.language
        if feed.tags:
            attrs["category"] = ",".join(f"/{t}" for t in feed.tags)
        ET.SubElement(parent, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
