"""HTML or plain text → clean plain text: no markup, nothing executable (scripts, handlers, `javascript:`).

The output is plain text with paragraphs separated by blank lines. Markup that was escaped once more
(double-escaped feeds) is stripped too, and whatever still looks like a tag or a script URL is defanged.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements whose whole content is dropped: executable, styling or embedded documents.
_DROP = frozenset({
    "script", "style", "noscript", "iframe", "frame", "frameset", "noframes", "object", "embed", "applet",
    "template", "svg", "math", "head", "select", "textarea", "button", "noembed", "xmp", "plaintext",
})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
                   "source", "track", "wbr"})
_BLOCK = frozenset({
    "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption", "figure", "footer",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
    "table", "tr", "ul", "br", "caption",
})
_TAG_LIKE = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>|<!--.*?-->|<!\[CDATA\[|<!DOCTYPE", re.DOTALL | re.IGNORECASE)
_TAG_OPEN = re.compile(
    r"<(?=[/!?A-Za-z])|<(?=\s+(?:script|iframe|object|embed|svg|math|style|link|meta|base|img|form|a)\b)", re.IGNORECASE)
_SCRIPT_URL = re.compile(r"\b(java|vb|live|mocha)(\s*)script(\s*):", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
# control characters and invisible format characters (bidi overrides, zero-width space, BOM, soft hyphen)
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u00ad\u200b\u200e\u200f\u202a-\u202e"
                        "\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb\ud800-\udfff]")
_BLANKS = re.compile(r"\n\s*\n\s*(?:\n\s*)+")
MAX_TEXT_CHARS = 200_000


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.dropping = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _DROP and tag not in _VOID:
            self.dropping += 1
        elif tag in _BLOCK:
            self.parts.append("\n\n" if tag != "br" else "\n")
        elif tag == "td" or tag == "th":
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP:
            self.dropping = max(0, self.dropping - 1)
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.parts.append(data)


def _strip_markup(html: str) -> str:
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - HTMLParser can trip on pathological input; fall back to a regex strip
        return _TAG_LIKE.sub(" ", html)
    return "".join(parser.parts)


def _tidy(text: str) -> str:
    text = _INVISIBLE.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def defang(text: str) -> str:
    """Neutralise what could still be read as markup or a script URL in plain text."""
    text = _TAG_OPEN.sub("\u2039", text)
    return _SCRIPT_URL.sub(lambda m: f"{m.group(1)}{m.group(2)}script{m.group(3)}\u02d0", text)


def to_text(value: str | None, content_type: str | None = "text/html") -> str:
    """Clean plain text from an HTML (or plain) string; at most MAX_TEXT_CHARS characters."""
    if not value:
        return ""
    text = value[: MAX_TEXT_CHARS * 4]
    if content_type is None or "html" in content_type or "xml" in content_type:
        text = _strip_markup(text)
    for _ in range(3):  # double- or triple-escaped markup in feeds
        if not _TAG_LIKE.search(text):
            break
        text = _strip_markup(text)
    return defang(_tidy(text))[:MAX_TEXT_CHARS]


def is_clean(text: str) -> bool:
    """True when `text` holds no tag, script element, event handler or script URL (used by tests and audits)."""
    return not (_TAG_OPEN.search(text) or _SCRIPT_URL.search(text))
