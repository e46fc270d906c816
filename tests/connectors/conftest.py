"""A real local HTTP server (ThreadingHTTPServer on 127.0.0.1, port 0) whose routes tests configure.

Helpers travel on the fixture (`feed_server.rss(...)`, `.route(...)`, `.wait_until(...)`) so that test modules
need not import this file.

A route answers with a status, headers and a body; it can honour ETag/Last-Modified, gzip its body, wait
before answering, drip its body slowly, or be a function of the request. Every request is recorded.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False
    delay: float = 0.0  # seconds before the status line
    drip: float | None = None  # seconds between body bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    length: bool = True  # send Content-Length (else the body ends when the connection closes)


def rss(items: list[tuple[str, str]], title: str = "Fixture feed", link: str = "https://fixture.example.org/") -> bytes:
    """A small RSS 2.0 document of (slug, title) items."""
    entries = "".join(
        f"<item><title>{t}</title><link>https://fixture.example.org/{slug}</link>"
        f"<guid>https://fixture.example.org/{slug}</guid><pubDate>Fri, 18 Oct 2024 09:00:00 +0000</pubDate>"
        f"<description>&lt;p&gt;Body of {t}.&lt;/p&gt;</description></item>" for slug, t in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>{link}</link>{entries}</channel></rss>").encode()


def http_date(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll a condition until it holds or the deadline passes; returns whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    at: float


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route | Callable[[Seen], Route]] = {}
        self.requests: list[Seen] = []
        self.active = 0  # requests being answered now
        self.max_active = 0  # the most answered at once
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                seen = Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic())
                with server._lock:
                    server.requests.append(seen)
                    route = server.routes.get(self.path.split("?")[0])
                if callable(route):
                    route = route(seen)
                if route is None:
                    route = Route(status=404, body=b"not found", content_type="text/plain")
                with server._lock:
                    server.active += 1
                    server.max_active = max(server.max_active, server.active)
                try:
                    server.answer(self, seen, route)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with server._lock:
                        server.active -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @staticmethod
    def answer(handler: BaseHTTPRequestHandler, seen: Seen, route: Route) -> None:
        if route.delay:
            time.sleep(route.delay)  # the server being slow, not test synchronisation
        status, body = route.status, route.body
        if status == 200 and route.etag and seen.headers.get("if-none-match") == route.etag:
            status, body = 304, b""
        if status == 200 and route.last_modified and seen.headers.get("if-modified-since") == route.last_modified:
            status, body = 304, b""
        if route.gzip and body:
            body = gzip.compress(body)
        handler.send_response(status)
        handler.send_header("Content-Type", route.content_type)
        if route.gzip:
            handler.send_header("Content-Encoding", "gzip")
        if route.etag:
            handler.send_header("ETag", route.etag)
        if route.last_modified:
            handler.send_header("Last-Modified", route.last_modified)
        for name, value in route.headers.items():
            handler.send_header(name, value)
        if not route.length:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        elif "Content-Length" not in route.headers:
            handler.send_header("Content-Length", str(len(body)) if status != 304 else "0")
        handler.end_headers()
        if status == 304:
            return
        if route.drip is None:
            handler.wfile.write(body)
            return
        for i in range(len(body)):
            handler.wfile.write(body[i:i + 1])
            handler.wfile.flush()
            time.sleep(route.drip)

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path.split("?")[0] == path]

    def route(self, path: str, **kwargs: object) -> Route:
        self.routes[path] = route = Route(**kwargs)  # type: ignore[arg-type]
        return route

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    Route = Route
    rss = staticmethod(rss)
    http_date = staticmethod(http_date)
    wait_until = staticmethod(wait_until)


@pytest.fixture
def feed_server() -> FeedServer:
    server = FeedServer()
    yield server
    server.close()


