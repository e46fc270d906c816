"""Benchmark: one poll round of N feeds (default 1,000) served by a real local HTTP server in another process.

Round 1 fetches and parses every feed (200, ETag); round 2 repeats with conditional GETs (304). Prints
feeds/s, the poller process's CPU time and its peak memory (the server's CPU is not counted).

    .venv/bin/python bench/bench_poll.py [--feeds 1000] [--items 20] [--workers 32]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.feeds.http import HttpPolicy
from connectors.feeds.poller import Poller, PollerOptions
from connectors.feeds.registry import FeedConfig, Registry
from connectors.feeds.sinks import MemoryPublisher


def make_feed(n: int, items: int) -> bytes:
    entries = "".join(
        f"<item><title>Feed {n} story {i}: officials discuss cooperation and deliveries</title>"
        f"<link>https://outlet{n}.example.org/news/{n}-{i}?utm_source=rss</link>"
        f"<guid isPermaLink='false'>{n}-{i}</guid><pubDate>Fri, 18 Oct 2024 {i % 24:02d}:00:00 +0900</pubDate>"
        f"<description>&lt;p&gt;Paragraph one of story {i} with &lt;b&gt;markup&lt;/b&gt; and a "
        f"&lt;a href='https://outlet{n}.example.org/x'&gt;link&lt;/a&gt;. " + "Filler sentence. " * 30 +
        "&lt;/p&gt;</description></item>" for i in range(items))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Outlet {n}</title>'
            f"<link>https://outlet{n}.example.org/</link><language>en</language>{entries}</channel></rss>").encode()


def serve(port_queue: mp.Queue, feeds: int, items: int) -> None:
    bodies = [make_feed(n, items) for n in range(feeds)]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            n = int(self.path.rsplit("/", 1)[-1])
            etag = f'"{n}-v1"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = bodies[n]
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 256
    port_queue.put(server.server_address[1])
    server.serve_forever()


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(poller: Poller, force: bool) -> dict[str, float]:
    cpu0, t0 = cpu(), time.monotonic()
    report = poller.run_once(force=force)
    wall, used = time.monotonic() - t0, cpu() - cpu0
    return {"feeds": report.polled, "wall_s": round(wall, 2), "feeds_per_s": round(report.polled / wall, 1),
            "cpu_s": round(used, 2), "articles": report.articles, "outcomes": report.outcomes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--workers", type=int, default=32)
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    ports: mp.Queue = ctx.Queue()
    server = ctx.Process(target=serve, args=(ports, args.feeds, args.items), daemon=True)
    server.start()
    try:
        port = ports.get(timeout=60)
        registry = Registry(feeds=tuple(
            FeedConfig(id=f"bench-{n}", url=f"http://127.0.0.1:{port}/feed/{n}", outlet=f"Outlet {n}",
                       poll_interval=900) for n in range(args.feeds)))
        # one local host serves every feed: lift the per-host limit to the worker count
        options = replace(PollerOptions(max_workers=args.workers, per_host=args.workers),
                          http=HttpPolicy(connect_timeout=10, read_timeout=30, total_timeout=60))
        with tempfile.TemporaryDirectory() as state:
            poller = Poller(registry, Path(state), MemoryPublisher(keep=False), options=options)
            first = measure(poller, force=False)
            second = measure(poller, force=True)
            poller.close()
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"feeds": args.feeds, "items_per_feed": args.items, "workers": args.workers,
                          "round_200": first, "round_304": second, "peak_rss_mb": round(peak_mb, 1)}, indent=2))
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()
