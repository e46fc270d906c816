"""Screen a feed's prolog for entity tricks before any XML parser sees it: bytes → (safe bytes, problems).

A DOCTYPE that declares external or parameter entities, points its DTD at a non-web location, or declares
entities that expand into other entities (or too many, too large) is removed whole; each problem is
reported as a reason ('external_entity' or 'entity_expansion'). Nothing is ever resolved or read here.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

MAX_ENTITIES = 64
MAX_ENTITY_VALUE = 4096
_PROLOG_SCAN = 256 * 1024
_WIDE = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
    (b"<\x00\x00\x00", "utf-32-le"), (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00?\x00", "utf-16-le"), (b"\x00<\x00?", "utf-16-be"),
)
_ENTITY = re.compile(r"<!ENTITY\s+(%\s+)?([^\s\"']+)\s+(SYSTEM|PUBLIC|\"[^\"]*\"|'[^']*')", re.IGNORECASE | re.DOTALL)
_ENTITY_REF = re.compile(r"[&%][A-Za-z_:][\w.:-]*;")
_XML_DECL_ENCODING = re.compile(r"""(<\?xml[^>]*?encoding\s*=\s*)(["'])[^"']*\2""", re.IGNORECASE)


@dataclass(frozen=True)
class Screened:
    data: bytes
    problems: tuple[tuple[str, str], ...] = ()  # (reason, detail)
    transcoded: bool = False  # the data was re-encoded as UTF-8 (a wide encoding had to be rewritten)


def _wide_codec(data: bytes) -> str | None:
    return next((codec for prefix, codec in _WIDE if data.startswith(prefix)), None)


def _skip_quoted(text: str, i: int) -> int:
    quote = text[i]
    end = text.find(quote, i + 1)
    return len(text) if end < 0 else end + 1


def _doctype_span(text: str) -> tuple[int, int] | None:
    """(start, end) of the DOCTYPE declaration in the prolog, skipping the XML declaration, PIs and comments."""
    i, n = 0, min(len(text), _PROLOG_SCAN)
    while i < n:
        if text[i] in " \t\r\n\ufeff":
            i += 1
        elif text.startswith("<?", i):
            end = text.find("?>", i + 2)
            i = n if end < 0 else end + 2
        elif text.startswith("<!--", i):
            end = text.find("-->", i + 4)
            i = n if end < 0 else end + 3
        elif text[i:i + 9].upper() == "<!DOCTYPE":
            return i, _doctype_end(text, i + 9)
        else:
            return None
    return None


def _doctype_end(text: str, i: int) -> int:
    in_subset = False
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            i = _skip_quoted(text, i)
            continue
        if in_subset and text.startswith("<!--", i):
            end = text.find("-->", i + 4)
            i = len(text) if end < 0 else end + 3
            continue
        if ch == "[" and not in_subset:
            in_subset = True
        elif ch == "]" and in_subset:
            in_subset = False
        elif ch == ">" and not in_subset:
            return i + 1
        i += 1
    return len(text)


def _problems(doctype: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    head = doctype.split("[", 1)[0]
    system = re.search(r"\b(SYSTEM|PUBLIC)\b(.*)", head, re.IGNORECASE | re.DOTALL)
    if system:
        literals = re.findall(r"\"([^\"]*)\"|'([^']*)'", system.group(2))
        uri = (literals[-1][0] or literals[-1][1]) if literals else ""
        if uri and not re.match(r"^https?://", uri.strip(), re.IGNORECASE):
            found.append(("external_entity", f"DOCTYPE refers its DTD to {uri[:200]!r}"))
    decls = _ENTITY.findall(doctype)
    for percent, name, kind in decls:
        if percent or kind.upper() in ("SYSTEM", "PUBLIC"):
            what = "parameter entity" if percent else "external entity"
            found.append(("external_entity", f"declares {what} {name[:80]!r}"))
        elif len(kind) > MAX_ENTITY_VALUE + 2:
            found.append(("entity_expansion", f"entity {name[:80]!r} is {len(kind)} characters long"))
        elif _ENTITY_REF.search(kind):
            found.append(("entity_expansion", f"entity {name[:80]!r} expands into other entities"))
    if len(decls) > MAX_ENTITIES:
        found.append(("entity_expansion", f"declares {len(decls)} entities"))
    if "<!ENTITY" in doctype.upper() and not decls:
        found.append(("entity_expansion", "entity declarations that cannot be read"))
    return found


def screen(data: bytes) -> Screened:
    """Remove a dangerous DOCTYPE from a document's prolog; report why. Other documents pass unchanged."""
    codec = _wide_codec(data)
    head = data[: _PROLOG_SCAN * (4 if codec else 1)]
    text = head.decode(codec or "latin-1", "replace")
    span = _doctype_span(text)
    if span is None:
        return Screened(data)
    merged: dict[str, list[str]] = {}
    for reason, detail in _problems(text[span[0]:span[1]]):
        merged.setdefault(reason, []).append(detail)
    problems = [(reason, "; ".join(details[:5]) + (f"; … {len(details) - 5} more" if len(details) > 5 else ""))
                for reason, details in merged.items()]
    if not problems:
        return Screened(data)
    if codec is None:  # ASCII-compatible: latin-1 maps bytes 1:1, so the span is a byte span
        return Screened(data[: span[0]] + data[span[1]:], tuple(problems))
    full = data.decode(codec, "replace").lstrip("\ufeff")
    span = _doctype_span(full) or (0, 0)
    cleaned = _XML_DECL_ENCODING.sub(r"\1\2utf-8\2", full[: span[0]], count=1) + full[span[1]:]
    return Screened(cleaned.encode("utf-8"), tuple(problems), transcoded=True)
