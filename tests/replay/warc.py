"""Writes the small WARC file the replay tests read: a feed response, an article page, a 404, a request and
a metadata record (made-up content; warcio writes it the way crawlers such as wget --warc do)."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

FEED_URL = "https://harbour-post.example.com/feed.xml"
PAGE_URL = "https://harbour-post.example.com/2024/03/08/munitions-train"
FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Harbour Post</title><link>https://harbour-post.example.com/</link>
<item><title>Munitions train leaves Rajin port for Russia</title>
<link>https://harbour-post.example.com/2024/03/08/munitions-train</link>
<pubDate>Fri, 08 Mar 2024 03:00:00 +0000</pubDate>
<description>A train loaded with containers left the North Korean port of Rajin for Russia, port watchers said.</description>
</item>
<item><title>Moscow and Pyongyang sign agreement on air links</title>
<link>https://atom-wire.example.com/2024/03/air-links</link>
<pubDate>Mon, 04 Mar 2024 06:00:00 +0000</pubDate>
<description>Copied from the wire: flights between Moscow and Pyongyang will resume.</description>
</item></channel></rss>"""
PAGE = b"""<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8">
<title>Munitions train leaves Rajin | Harbour Post</title>
<meta property="og:title" content="Munitions train leaves Rajin port for Russia">
<meta property="og:site_name" content="Harbour Post">
<meta property="article:published_time" content="2024-03-08T03:00:00+00:00">
</head><body><nav>Home | World | Sport</nav><article><h1>Munitions train leaves Rajin port for Russia</h1>
<p>A train loaded with about forty containers left the North Korean port of Rajin on Thursday night, heading for
the Russian border crossing at Khasan, according to port watchers who have followed the traffic for a year.</p>
<p>Officials in Seoul have said such shipments carry artillery shells for Russia's war in Ukraine, a claim
Pyongyang and Moscow deny. The watchers counted three similar trains in February.</p></article>
<footer>Copyright Harbour Post</footer></body></html>"""


def _response(writer: WARCWriter, url: str, status: str, ctype: str, body: bytes, date: str):
    http = StatusAndHeaders(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))],
                            protocol="HTTP/1.1")
    return writer.create_warc_record(url, "response", payload=BytesIO(body), length=len(body), http_headers=http,
                                     warc_headers_dict={"WARC-Date": date})


def write_warc(path: Path, gzip: bool = True) -> Path:
    """Write the test WARC to `path`; return it."""
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gzip)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "nkru tests"}))
        request = StatusAndHeaders("GET /feed.xml HTTP/1.1", [("Host", "harbour-post.example.com")],
                                   is_http_request=True)
        writer.write_record(writer.create_warc_record(FEED_URL, "request", payload=BytesIO(b""), length=0,
                                                      http_headers=request,
                                                      warc_headers_dict={"WARC-Date": "2024-03-08T06:00:00Z"}))
        writer.write_record(_response(writer, FEED_URL, "200 OK", "application/rss+xml; charset=utf-8", FEED,
                                      "2024-03-08T06:00:00Z"))
        writer.write_record(_response(writer, PAGE_URL, "200 OK", "text/html; charset=utf-8", PAGE,
                                      "2024-03-08T06:00:05Z"))
        writer.write_record(_response(writer, "https://harbour-post.example.com/gone", "404 Not Found", "text/html",
                                      b"<html><body>Not found</body></html>", "2024-03-08T06:00:09Z"))
        writer.write_record(writer.create_warc_record(PAGE_URL, "metadata", payload=BytesIO(b"outlinks: 3"),
                                                      length=11, warc_content_type="text/plain",
                                                      warc_headers_dict={"WARC-Date": "2024-03-08T06:00:05Z"}))
    return path
