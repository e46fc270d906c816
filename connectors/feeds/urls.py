"""URL canonicalisation: scheme and host case, default ports, tracking parameters, fragments → one spelling.

Only http(s) URLs are canonical; anything else (javascript:, data:, file:, relative without a base) is None.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

TRACKING_PARAM = re.compile(
    r"^(utm_[a-z0-9_]*|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|mc_cid|mc_eid|_hsenc|_hsmi|igshid|"
    r"mkt_tok|ocid|cmpid|at_medium|at_campaign|at_ptr_name|at_link_origin|at_link_type|at_link_id|"
    r"at_bbc_team|at_format|at_custom\d*|wt\.mc_id|wt_mc_id|__twitter_impression|sr_share|rss_id)$",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PCT = re.compile(r"%[0-9a-fA-F]{2}")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def _normalise_escapes(part: str) -> str:
    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(0)[1:], 16))
        return char if char in _UNRESERVED else match.group(0).upper()

    return _PCT.sub(fix, part)


def _host(hostname: str) -> str | None:
    host = hostname.rstrip(".").lower()
    if not host:
        return None
    if ":" in host:  # IPv6 literal
        return f"[{host}]"
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def canonical_url(url: str | None, base: str | None = None) -> str | None:
    """The canonical spelling of an http(s) URL (resolved against `base`), or None if it is not one."""
    if not url:
        return None
    raw = _CONTROL.sub("", url.strip())
    if not raw:
        return None
    try:
        if base and not urlsplit(raw).scheme:
            raw = urljoin(base, raw)
        parts = urlsplit(raw)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            return None
        host = _host(parts.hostname)
        port = parts.port
    except ValueError:
        return None
    if host is None:
        return None
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _normalise_escapes(quote(parts.path, safe="/:@!$&'()*+,;=%~")) or "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAM.match(k)]
    query_text = urlencode(sorted(query), quote_via=quote, safe="/:@!$'()*,;~") if query else ""
    return urlunsplit((scheme, netloc, path, query_text, ""))


def is_http_url(url: str | None) -> bool:
    return canonical_url(url) is not None


def host_of(url: str) -> str:
    """host[:port] of a URL (lower case), used as the key of per-host limits."""
    try:
        parts = urlsplit(url)
        return (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return ""


def decode_display(url: str) -> str:
    return unquote(url)
