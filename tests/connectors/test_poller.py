"""The poller against a real local HTTP server: emission once, validators, redirects, backoff, restarts."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

from connectors.feeds.http import HttpPolicy
from connectors.feeds.poller import Poller, PollerOptions
from connectors.feeds.registry import FeedConfig, Registry
from connectors.feeds.sinks import MemoryPublisher

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"
OPTIONS = PollerOptions(max_workers=8, per_host=8, http=HttpPolicy(connect_timeout=1, read_timeout=0.5,
                        total_timeout=2, max_bytes=256 * 1024), backoff_base=10, backoff_max=1000,
                        gone_interval=5000, seed=7)


def feed(server, fid: str = "f1", path: str = "/feed", **kw) -> FeedConfig:
    return FeedConfig(id=fid, url=server.url(path), outlet=f"Outlet {fid}", poll_interval=kw.pop("interval", 3600),
                      **kw)


def make(tmp_path: Path, feeds: list[FeedConfig], publisher=None, **options) -> tuple[Poller, MemoryPublisher]:
    publisher = publisher or MemoryPublisher()
    return Poller(Registry(feeds=tuple(feeds)), tmp_path, publisher, options=replace(OPTIONS, **options)), publisher


def test_new_articles_are_emitted_once_and_validators_sent(feed_server, tmp_path):
    feed_server.route("/feed", body=feed_server.rss([("a", "A"), ("b", "B")]), etag='"v1"')
    poller, pub = make(tmp_path, [feed(feed_server)])
    report = poller.run_once()
    assert report.outcomes == {"ok": 1} and [a.title for a in pub.articles] == ["A", "B"]
    assert pub.articles[0].feed_id == "f1" and pub.articles[0].outlet == "Outlet f1"
    state = poller.store.get("f1")
    assert state.etag == '"v1"' and state.last_success and state.error_streak == 0 and state.items_last_poll == 2
    assert state.new_last_poll == 2
    feed_server.route("/feed", body=feed_server.rss([("c", "C"), ("a", "A"), ("b", "B")]), etag='"v2"')
    poller.run_once(force=True)
    assert [a.title for a in pub.articles] == ["A", "B", "C"]
    assert feed_server.hits("/feed")[-1].headers["if-none-match"] == '"v1"'
    assert poller.store.get("f1").new_last_poll == 1


def test_304_and_unchanged_bodies_emit_nothing(feed_server, tmp_path):
    feed_server.route("/feed", body=feed_server.rss([("a", "A")]), etag='"v1"')
    feed_server.route("/plain", body=feed_server.rss([("p", "P")]))
    poller, pub = make(tmp_path, [feed(feed_server), feed(feed_server, "f2", "/plain")])
    poller.run_once()
    assert len(pub.articles) == 2
    report = poller.run_once(force=True)
    assert report.outcomes == {"not_modified": 1, "unchanged": 1} and len(pub.articles) == 2


def test_restart_resumes_without_refetching_or_reemitting(feed_server, tmp_path):
    feed_server.route("/feed", body=feed_server.rss([("a", "A"), ("b", "B")]), etag='"v1"')
    feed_server.route("/other", body=feed_server.rss([("x", "X")]))
    feeds = [feed(feed_server), feed(feed_server, "f2", "/other")]
    first, pub1 = make(tmp_path, feeds)
    first.run_once()
    first.close()
    assert len(pub1.articles) == 3 and len(feed_server.requests) == 2

    second, pub2 = make(tmp_path, feeds)  # a new process: state comes from disk
    assert second.run_once().polled == 0 and len(feed_server.requests) == 2  # nothing due yet: no refetch
    feed_server.route("/other", body=feed_server.rss([("y", "Y"), ("x", "X")]))
    second.run_once(force=True)
    assert feed_server.hits("/feed")[-1].headers["if-none-match"] == '"v1"'
    assert [a.title for a in pub2.articles] == ["Y"]  # X was emitted before the restart
    second.close()


def test_permanent_redirect_updates_the_stored_url(feed_server, tmp_path):
    feed_server.route("/old", status=301, headers={"Location": "/new"})
    feed_server.route("/new", body=feed_server.rss([("a", "A")]))
    poller, pub = make(tmp_path, [feed(feed_server, path="/old")])
    poller.run_once()
    assert poller.store.get("f1").url == feed_server.url("/new") and len(pub.articles) == 1
    poller.run_once(force=True)
    assert len(feed_server.hits("/old")) == 1 and len(feed_server.hits("/new")) == 2


def test_failures_back_off_exponentially_with_jitter_then_recover(feed_server, tmp_path):
    feed_server.route("/feed", status=500)
    poller, _ = make(tmp_path, [feed(feed_server, interval=1)])
    delays = []
    for _ in range(3):
        assert poller.run_once(force=True).outcomes == {"http_500": 1}
        state = poller.store.get("f1")
        delays.append(state.next_poll - state.last_attempt)
    assert state.error_streak == 3 and state.last_error.startswith("http_500")
    for delay, base in zip(delays, (10, 20, 40)):
        assert base <= delay <= base * 1.2 + 0.1
    feed_server.route("/feed", body=feed_server.rss([("a", "A")]))
    poller.run_once(force=True)
    state = poller.store.get("f1")
    assert state.error_streak == 0 and state.last_error is None and state.next_poll - state.last_attempt < 1.2


def test_retry_after_is_honoured(feed_server, tmp_path):
    feed_server.route("/busy", status=429, headers={"Retry-After": "300"})
    feed_server.route("/down", status=503, headers={"Retry-After": "700"})
    poller, _ = make(tmp_path, [feed(feed_server, "busy", "/busy", interval=1), feed(feed_server, "down", "/down",
                                                                                        interval=1)])
    poller.run_once()
    busy, down = poller.store.get("busy"), poller.store.get("down")
    assert busy.next_poll - busy.last_attempt >= 300 and down.next_poll - down.last_attempt >= 700
    assert busy.last_status == 429 and busy.error_streak == 1
    assert poller.run_once().polled == 0  # not due before Retry-After


def test_gone_404_timeout_loop_and_oversize_do_not_stop_the_round(feed_server, tmp_path):
    feed_server.route("/gone", status=410)
    feed_server.route("/slow", body=feed_server.rss([]), delay=1.0)
    feed_server.route("/loop", status=301, headers={"Location": "/loop2"})
    feed_server.route("/loop2", status=301, headers={"Location": "/loop"})
    feed_server.route("/big", body=b"<rss>" + b" " * (300 * 1024) + b"</rss>")
    feed_server.route("/good", body=feed_server.rss([("a", "A")]))
    feeds = [feed(feed_server, name, f"/{name}") for name in ("gone", "missing", "slow", "loop", "big", "good")]
    poller, pub = make(tmp_path, feeds)
    report = poller.run_once()
    assert report.outcomes == {"http_410": 1, "http_404": 1, "timeout": 1, "redirect_loop": 1, "too_large": 1,
                               "ok": 1}
    assert len(pub.articles) == 1
    gone = poller.store.get("gone")
    assert gone.gone and gone.next_poll - gone.last_attempt >= 5000
    assert [(d.stage, d.reason) for d in pub.dead_letters] == [("fetch", "oversize")]
    assert pub.dead_letters[0].payload_ref == feed_server.url("/big")


def test_bad_documents_yield_dead_letters_that_refer_to_the_kept_bytes(feed_server, tmp_path):
    body = (FIXTURES / "illformed_partial.xml").read_bytes()
    feed_server.route("/sloppy", body=body)
    feed_server.route("/html", body=(FIXTURES / "not_a_feed.html").read_bytes(), content_type="text/html")
    poller, pub = make(tmp_path, [feed(feed_server, "sloppy", "/sloppy"), feed(feed_server, "html", "/html")])
    poller.run_once()
    assert sorted(d.reason for d in pub.dead_letters) == ["ill_formed", "not_a_feed"]
    assert len(pub.articles) == 2  # the ill-formed feed's entries are kept
    sloppy = next(d for d in pub.dead_letters if d.reason == "ill_formed")
    saved = Path(sloppy.payload_ref.split(" (from ")[0])
    assert saved.read_bytes() == body and feed_server.url("/sloppy") in sloppy.payload_ref


def test_concurrency_is_bounded_per_poller_and_per_host(feed_server, tmp_path):
    for i in range(12):
        feed_server.route(f"/f{i}", body=feed_server.rss([(f"a{i}", f"A{i}")]), delay=0.15)
    feeds = [feed(feed_server, f"f{i}", f"/f{i}") for i in range(12)]
    poller, pub = make(tmp_path, feeds, max_workers=6, per_host=3)
    poller.run_once()
    assert len(pub.articles) == 12 and 2 <= feed_server.max_active <= 3


def test_run_forever_returns_promptly_when_stopped(feed_server, tmp_path):
    feed_server.route("/slow", body=feed_server.rss([("a", "A")]), delay=1.5)
    poller, _ = make(tmp_path, [feed(feed_server, path="/slow")], http=HttpPolicy(read_timeout=5, total_timeout=10))
    stop = threading.Event()
    thread = threading.Thread(target=poller.run_forever, args=(stop,), daemon=True)
    thread.start()
    assert feed_server.wait_until(lambda: feed_server.hits("/slow"), timeout=5)
    stopped_at = time.monotonic()
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive() and time.monotonic() - stopped_at < 1.0


def test_registry_url_edit_resets_a_remembered_move(feed_server, tmp_path):
    feed_server.route("/old", status=308, headers={"Location": "/new"})
    feed_server.route("/new", body=feed_server.rss([("a", "A")]))
    feed_server.route("/edited", body=feed_server.rss([("b", "B")]))
    poller, _ = make(tmp_path, [feed(feed_server, path="/old")])
    poller.run_once()
    assert poller.store.get("f1").url == feed_server.url("/new")
    poller.close()
    edited, pub = make(tmp_path, [feed(feed_server, path="/edited")])
    edited.run_once(force=True)
    assert [a.title for a in pub.articles] == ["B"] and edited.store.get("f1").url is None
