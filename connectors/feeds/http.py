"""A small, polite HTTP GET for feeds on the standard library: URL + validators → `FetchResult`; never raises.

Conditional GET (ETag / Last-Modified), gzip/deflate, connect/read timeouts and a deadline for the whole
exchange (slow drips end), a size cap (compressed and decompressed), redirects (permanent ones reported so
the stored URL moves; loops detected), Retry-After read, and an honest User-Agent.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
import zlib
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from connectors.feeds.urls import canonical_url

VERSION = "0.1.0"
DEFAULT_USER_AGENT = (f"nkru-monitor/{VERSION} (news feed reader for DPRK-Russia analysis; polls each feed "
                      f"at most every few minutes; honours ETag, Last-Modified and Retry-After)")
ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
          "text/xml;q=0.9, */*;q=0.5")
REDIRECTS = {301, 302, 303, 307, 308}
PERMANENT = {301, 308}
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class HttpPolicy:
    """Limits of one fetch; tests use small values."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # longest silence between two reads
    total_timeout: float = 60.0  # the whole exchange, redirects included
    max_bytes: int = 10 * 1024 * 1024  # body cap, before and after decompression
    max_redirects: int = 5
    user_agent: str = DEFAULT_USER_AGENT
    accept: str = ACCEPT


@dataclass(frozen=True)
class FetchResult:
    """What one fetch gave. `error` is None or a short code: timeout, connect, tls, protocol, too_large,
    decode, redirect_loop, too_many_redirects, bad_redirect."""

    url: str
    final_url: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    error: str | None = None
    detail: str = ""
    redirects: tuple[tuple[int, str], ...] = ()  # (status, target) per hop
    permanent_url: str | None = None  # where every hop so far was permanent: the feed has moved here
    retry_after: float | None = None  # seconds the server asked us to wait (429/503)
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200 and self.body is not None

    @property
    def not_modified(self) -> bool:
        return self.error is None and self.status == 304


class _Abort(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), never negative; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


_ssl_context: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = ssl.create_default_context()
    return _ssl_context


class _Deadline:
    """Closes the connection's socket when the whole exchange overruns (ends header and body drips)."""

    def __init__(self, seconds: float) -> None:
        self.expires = time.monotonic() + seconds
        self.fired = False
        self._conn: http.client.HTTPConnection | None = None
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, conn: http.client.HTTPConnection) -> None:
        self._conn = conn

    def _fire(self) -> None:
        self.fired = True
        sock = self._conn.sock if self._conn is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def left(self) -> float:
        return self.expires - time.monotonic()

    def cancel(self) -> None:
        self._timer.cancel()


def _connect(url: str, policy: HttpPolicy, deadline: _Deadline) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    timeout = max(0.01, min(policy.connect_timeout, deadline.left()))
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=timeout, context=_tls())
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    deadline.watch(conn)
    try:
        conn.connect()
    except TimeoutError:
        raise _Abort("timeout", f"connect to {parts.netloc} timed out after {timeout:.1f}s") from None
    except ssl.SSLError as exc:
        raise _Abort("tls", f"TLS with {parts.netloc}: {exc}") from None
    except OSError as exc:
        raise _Abort("connect", f"connect to {parts.netloc}: {exc}") from None
    assert conn.sock is not None
    conn.sock.settimeout(policy.read_timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return conn, path


def _decoder(encoding: str) -> zlib._Decompress | None:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj(32 + zlib.MAX_WBITS)
    raise _Abort("decode", f"unsupported Content-Encoding {encoding!r}")


def _read_body(resp: http.client.HTTPResponse, policy: HttpPolicy, deadline: _Deadline) -> bytes:
    length = resp.getheader("content-length")
    if length and length.isdigit() and int(length) > policy.max_bytes:
        raise _Abort("too_large", f"Content-Length {length} > {policy.max_bytes}")
    encoding = resp.getheader("content-encoding") or ""
    decoder = _decoder(encoding)
    raw_bytes, out = 0, bytearray()
    retried_raw_deflate = False
    while True:
        chunk = resp.read1(_CHUNK)
        if deadline.left() <= 0:
            raise _Abort("timeout", f"body not complete after {policy.total_timeout:.1f}s")
        if not chunk:
            break
        raw_bytes += len(chunk)
        if raw_bytes > policy.max_bytes:
            raise _Abort("too_large", f"body exceeds {policy.max_bytes} bytes")
        if decoder is None:
            out += chunk
            continue
        try:
            out += decoder.decompress(chunk, policy.max_bytes + 1 - len(out))
        except zlib.error as exc:
            if encoding.strip().lower() == "deflate" and not retried_raw_deflate and not out:
                retried_raw_deflate, decoder = True, zlib.decompressobj(-zlib.MAX_WBITS)
                out += decoder.decompress(chunk, policy.max_bytes + 1)
            else:
                raise _Abort("decode", f"bad {encoding} body: {exc}") from None
        if len(out) > policy.max_bytes or decoder.unconsumed_tail:
            raise _Abort("too_large", f"decompressed body exceeds {policy.max_bytes} bytes")
    if decoder is not None:
        out += decoder.flush()
    return bytes(out)


def _request(url: str, headers: dict[str, str], policy: HttpPolicy, deadline: _Deadline
             ) -> tuple[int, dict[str, str], bytes | None]:
    conn, path = _connect(url, policy, deadline)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        resp_headers = {k.lower(): v for k, v in resp.getheaders()}
        if resp.status == 200:
            return resp.status, resp_headers, _read_body(resp, policy, deadline)
        return resp.status, resp_headers, None
    finally:
        conn.close()


def fetch(url: str, *, etag: str | None = None, last_modified: str | None = None,
          policy: HttpPolicy = HttpPolicy(), now: float | None = None) -> FetchResult:
    """GET a feed, following redirects; a FetchResult in every case (network trouble is in `error`)."""
    started = time.monotonic()
    wall = time.time() if now is None else now
    headers = {"User-Agent": policy.user_agent, "Accept": policy.accept, "Accept-Encoding": "gzip, deflate",
               "Connection": "close"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    deadline = _Deadline(policy.total_timeout)
    current, visited, hops = url, {canonical_url(url) or url}, []
    permanent: str | None = None
    still_permanent = True
    status, resp_headers, body = None, {}, None
    try:
        while True:
            status, resp_headers, body = _request(current, headers, policy, deadline)
            if status not in REDIRECTS or "location" not in resp_headers:
                break
            target = urljoin(current, resp_headers["location"].strip())
            key = canonical_url(target)
            if key is None:
                raise _Abort("bad_redirect", f"{status} to a non-web location {target[:200]!r}")
            hops.append((status, target))
            if key in visited:
                raise _Abort("redirect_loop", " -> ".join([url] + [t for _, t in hops]))
            if len(hops) > policy.max_redirects:
                raise _Abort("too_many_redirects", f"more than {policy.max_redirects} redirects")
            visited.add(key)
            still_permanent = still_permanent and status in PERMANENT
            permanent = target if still_permanent else permanent
            current = target
        error, detail = None, ""
    except _Abort as exc:
        error, detail = exc.code, str(exc)
    except TimeoutError:
        error, detail = "timeout", f"no data for {policy.read_timeout:.1f}s"
    except ssl.SSLError as exc:
        error, detail = "tls", str(exc)
    except (http.client.HTTPException, OSError, ValueError) as exc:
        error, detail = ("timeout", "deadline reached") if deadline.fired else ("protocol", f"{exc!r}")
    finally:
        deadline.cancel()
    if error is not None and deadline.fired:
        error, detail = "timeout", f"exchange not complete after {policy.total_timeout:.1f}s"
    retry = parse_retry_after(resp_headers.get("retry-after"), wall) if status in (429, 503) else None
    return FetchResult(url=url, final_url=current, status=status, headers=resp_headers,
                       body=body if error is None else None, error=error, detail=detail, redirects=tuple(hops),
                       permanent_url=permanent, retry_after=retry, elapsed=time.monotonic() - started)
