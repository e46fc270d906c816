"""The bundled sample: a few invented feeds served by a local HTTP server, for `nkru run --sample`."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FEEDS_DIR = Path(__file__).parent / "feeds"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the demo's output is the alerts, not access logs
        pass


def serve_sample(port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Serve the sample feeds on 127.0.0.1 in a daemon thread; return the server and its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(FEEDS_DIR))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, name="sample-feeds", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def sample_registry(base_url: str, poll_interval: float = 30.0):
    """A registry of the sample feeds as served from `base_url`."""
    from connectors.feeds.registry import FeedConfig, Registry

    feeds = [
        FeedConfig(id=path.stem, url=f"{base_url}/{path.name}", outlet=f"Sample {path.stem.replace('-', ' ').title()}",
                   language="en", poll_interval=poll_interval, tags=("sample",))
        for path in sorted(FEEDS_DIR.glob("*.xml"))
    ]
    return Registry(feeds=tuple(feeds))
