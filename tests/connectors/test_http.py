"""The HTTP client against a real local server: statuses, validators, redirects, limits, encodings."""

from __future__ import annotations

import gzip
import socket
import time
import zlib

from connectors.feeds.http import HttpPolicy, fetch, parse_retry_after

FAST = HttpPolicy(connect_timeout=1.0, read_timeout=0.5, total_timeout=2.0, max_bytes=64 * 1024)


def test_200_returns_body_validators_and_honest_user_agent(feed_server):
    body = feed_server.rss([("a", "A")])
    feed_server.route("/feed", body=body, etag='"v1"', last_modified=feed_server.http_date(1_700_000_000))
    result = fetch(feed_server.url("/feed"), policy=FAST)
    assert result.ok and result.status == 200 and result.body == body
    assert result.headers["etag"] == '"v1"' and result.headers["last-modified"] == feed_server.http_date(1_700_000_000)
    sent = feed_server.hits("/feed")[0].headers
    assert sent["user-agent"].startswith("nkru-monitor/") and "feed reader" in sent["user-agent"]
    assert "gzip" in sent["accept-encoding"] and "if-none-match" not in sent


def test_conditional_get_gives_304_without_body(feed_server):
    feed_server.route("/feed", body=feed_server.rss([("a", "A")]), etag='"v1"')
    result = fetch(feed_server.url("/feed"), etag='"v1"', last_modified="Tue, 14 Nov 2023 22:13:20 GMT",
                   policy=FAST)
    assert result.not_modified and not result.ok and result.body is None
    sent = feed_server.hits("/feed")[0].headers
    assert sent["if-none-match"] == '"v1"' and sent["if-modified-since"] == "Tue, 14 Nov 2023 22:13:20 GMT"


def test_last_modified_alone_gives_304(feed_server):
    stamp = feed_server.http_date(1_700_000_000)
    feed_server.route("/feed", body=feed_server.rss([("a", "A")]), last_modified=stamp)
    assert fetch(feed_server.url("/feed"), last_modified=stamp, policy=FAST).not_modified


def test_gzip_and_deflate_bodies_are_decoded(feed_server):
    body = feed_server.rss([("a", "A"), ("b", "B")])
    feed_server.route("/gz", body=body, gzip=True)
    feed_server.route("/deflate", body=zlib.compress(body), headers={"Content-Encoding": "deflate"})
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    feed_server.route("/raw-deflate", body=raw.compress(body) + raw.flush(),
                                               headers={"Content-Encoding": "deflate"})
    for path in ("/gz", "/deflate", "/raw-deflate"):
        result = fetch(feed_server.url(path), policy=FAST)
        assert result.ok and result.body == body, path


def test_permanent_redirects_301_and_308_report_the_new_url(feed_server):
    feed_server.route("/old", status=301, headers={"Location": "/older"})
    feed_server.route("/older", status=308, headers={"Location": feed_server.url("/new")})
    feed_server.route("/new", body=feed_server.rss([("a", "A")]))
    result = fetch(feed_server.url("/old"), policy=FAST)
    assert result.ok and result.final_url == feed_server.url("/new")
    assert result.permanent_url == feed_server.url("/new")
    assert [status for status, _ in result.redirects] == [301, 308]


def test_temporary_redirect_does_not_move_the_feed(feed_server):
    feed_server.route("/old", status=301, headers={"Location": "/mid"})
    feed_server.route("/mid", status=302, headers={"Location": "/new"})
    feed_server.route("/new", body=feed_server.rss([("a", "A")]))
    result = fetch(feed_server.url("/old"), policy=FAST)
    assert result.ok and result.permanent_url == feed_server.url("/mid")  # only the permanent prefix counts
    feed_server.route("/t", status=307, headers={"Location": "/new"})
    assert fetch(feed_server.url("/t"), policy=FAST).permanent_url is None


def test_redirect_loop_is_detected(feed_server):
    feed_server.route("/a", status=301, headers={"Location": "/b"})
    feed_server.route("/b", status=302, headers={"Location": "/a"})
    result = fetch(feed_server.url("/a"), policy=FAST)
    assert result.error == "redirect_loop" and len(feed_server.hits("/a")) == 1


def test_too_many_redirects_and_non_web_targets_are_refused(feed_server):
    for i in range(10):
        feed_server.route(f"/r{i}", status=302, headers={"Location": f"/r{i + 1}"})
    assert fetch(feed_server.url("/r0"), policy=FAST).error == "too_many_redirects"
    feed_server.route("/evil", status=301, headers={"Location": "file:///etc/passwd"})
    assert fetch(feed_server.url("/evil"), policy=FAST).error == "bad_redirect"


def test_error_statuses_are_reported(feed_server):
    for status in (404, 410, 500):
        feed_server.route(f"/s{status}", status=status, body=b"nope", content_type="text/plain")
        result = fetch(feed_server.url(f"/s{status}"), policy=FAST)
        assert result.status == status and not result.ok and result.body is None and result.retry_after is None


def test_429_and_503_retry_after_in_seconds_and_as_a_date(feed_server):
    feed_server.route("/busy", status=429, headers={"Retry-After": "120"})
    assert fetch(feed_server.url("/busy"), policy=FAST).retry_after == 120
    now = 1_700_000_000.0
    feed_server.route("/down", status=503, headers={"Retry-After": feed_server.http_date(now + 300)})
    assert fetch(feed_server.url("/down"), policy=FAST, now=now).retry_after == 300
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(feed_server.http_date(now - 10), now) == 0


def test_read_timeout_when_the_server_does_not_answer(feed_server):
    feed_server.route("/slow", body=feed_server.rss([]), delay=1.5)
    started = time.monotonic()
    result = fetch(feed_server.url("/slow"), policy=FAST)
    assert result.error == "timeout" and time.monotonic() - started < 1.4


def test_connect_timeout_against_a_full_backlog():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(8):  # fill the accept queue so further connects hang
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(listener.getsockname())
            fillers.append(s)
        host, port = listener.getsockname()
        started = time.monotonic()
        result = fetch(f"http://{host}:{port}/feed", policy=HttpPolicy(connect_timeout=0.5, total_timeout=5))
        assert result.error == "timeout" and "connect" in result.detail
        assert time.monotonic() - started < 2
    finally:
        for s in fillers:
            s.close()
        listener.close()


def test_connection_refused_is_a_connect_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert fetch(f"http://127.0.0.1:{port}/feed", policy=FAST).error == "connect"


def test_slow_drip_is_cut_by_the_deadline(feed_server):
    feed_server.route("/drip", body=feed_server.rss([("a", "A")] * 20), drip=0.05)  # each read < read_timeout
    started = time.monotonic()
    result = fetch(feed_server.url("/drip"), policy=HttpPolicy(read_timeout=0.5, total_timeout=1.0))
    elapsed = time.monotonic() - started
    assert result.error == "timeout" and result.body is None
    assert 0.9 <= elapsed < 2.0


def test_oversize_bodies_are_refused_by_length_stream_and_decompression(feed_server):
    big = b"<rss>" + b"x" * (200 * 1024) + b"</rss>"
    feed_server.route("/declared", body=big)
    feed_server.route("/streamed", body=big, length=False)
    bomb = gzip.compress(b" " * (5 * 1024 * 1024))
    feed_server.route("/bomb", body=bomb, headers={"Content-Encoding": "gzip"})
    assert fetch(feed_server.url("/declared"), policy=FAST).error == "too_large"
    assert len(bomb) < FAST.max_bytes
    assert fetch(feed_server.url("/bomb"), policy=FAST).error == "too_large"
    assert fetch(feed_server.url("/streamed"), policy=FAST).error == "too_large"
