"""The poller: registry + persisted state → fetch due feeds (bounded concurrency) → parse → publish new
articles and dead letters → commit state once the publisher holds them (Kafka or spool).

Per feed: conditional GET, permanent redirects move the stored URL, failures back off exponentially with
jitter (never sooner than the poll interval, never before Retry-After), 410 Gone is polled rarely.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from connectors.feeds import metrics
from connectors.feeds.fulltext import FullTextFetcher
from connectors.feeds.http import FetchResult, HttpPolicy, fetch
from connectors.feeds.parse import VERSIONS, parse_document
from connectors.feeds.registry import FeedConfig, Registry
from connectors.feeds.state import FeedState, StateStore
from connectors.feeds.urls import host_of
from schemas.records import DeadLetter, RawArticle

log = logging.getLogger(__name__)
# A poll round starts at least every 30 s (`run_forever`'s max_sleep) plus the length of a round (1,000 feeds:
# about 14 s cold); ten minutes without one means the loop is stuck.
STALLED_AFTER = 600.0


class Publisher(Protocol):
    def publish(self, article: RawArticle, feed_id: str | None, fetched_at: datetime | None) -> None: ...
    def publish_dead_letter(self, dl: DeadLetter, feed_id: str | None = None) -> None: ...
    def flush(self) -> set[str] | None: ...


@dataclass(frozen=True)
class PollerOptions:
    max_workers: int = 32  # concurrent fetches
    per_host: int = 2  # concurrent fetches to one host
    http: HttpPolicy = field(default_factory=HttpPolicy)
    backoff_base: float = 60.0  # first retry delay after a failure (doubles per failure)
    backoff_max: float = 6 * 3600.0
    gone_interval: float = 24 * 3600.0  # how often a 410 Gone feed is still tried
    max_retry_after: float = 24 * 3600.0  # Retry-After beyond this is capped
    jitter: float = 0.1  # ± share of the poll interval (and + share of backoff)
    batch_size: int = 50  # feeds between publisher flushes and state commits
    keep_documents: int = 20  # offending raw documents kept per feed (dead letters refer to them)
    seed: int | None = None


@dataclass
class FeedOutcome:
    feed: FeedConfig
    state: FeedState
    outcome: str  # ok, not_modified, unchanged, or the failure code
    articles: list[RawArticle] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)  # ids in the document that were emitted before
    fetched_at: datetime | None = None


@dataclass
class RoundReport:
    polled: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    articles: int = 0
    dead_letters: int = 0
    unkept: int = 0
    seconds: float = 0.0
    skipped: str = ""  # why the round did nothing (spool full), if it did


class Poller:
    """Polls the registry's enabled feeds when due; `run_once()` is one round, `run_forever(stop)` loops."""

    def __init__(self, registry: Registry, settings: Any, publisher: Publisher, *,
                 options: PollerOptions = PollerOptions(), store: StateStore | None = None,
                 fulltext: FullTextFetcher | None = None, clock: Any = time.time) -> None:
        state_dir = Path(getattr(settings, "state_dir", settings))
        self.registry = registry
        self.publisher = publisher
        self.options = options
        self.store = store or StateStore.in_state_dir(state_dir)
        self.documents_dir = state_dir / "feeds" / "documents"
        self.stop = threading.Event()
        self.heartbeat = time.monotonic()  # when the poll loop last began a round (`alive`)
        self.fulltext = fulltext or FullTextFetcher(state_dir / "feeds" / "fulltext-cache", stop=self.stop)
        self.clock = clock
        self._random = random.Random(options.seed)
        self._hosts: dict[str, threading.Semaphore] = {}
        self._hosts_lock = threading.Lock()

    # -- scheduling ------------------------------------------------------------------------------------------
    def due(self, now: float | None = None) -> list[FeedConfig]:
        now = self.clock() if now is None else now
        states = self.store.all()
        feeds = [f for f in self.registry.enabled if states.get(f.id, FeedState(f.id)).next_poll <= now]
        return sorted(feeds, key=lambda f: states.get(f.id, FeedState(f.id)).next_poll)

    def next_due(self) -> float:
        states = self.store.all()
        return min((states.get(f.id, FeedState(f.id)).next_poll for f in self.registry.enabled), default=float("inf"))

    def _interval(self, feed: FeedConfig) -> float:
        return feed.poll_interval * self._random.uniform(1 - self.options.jitter, 1 + self.options.jitter)

    def _backoff(self, feed: FeedConfig, streak: int, retry_after: float | None) -> float:
        exp = min(self.options.backoff_max, self.options.backoff_base * 2 ** max(0, streak - 1))
        delay = max(feed.poll_interval, exp) * self._random.uniform(1.0, 1.0 + 2 * self.options.jitter)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.options.max_retry_after))
        return delay

    # -- one feed (worker threads) ---------------------------------------------------------------------------
    def _host_slot(self, url: str) -> threading.Semaphore:
        with self._hosts_lock:
            return self._hosts.setdefault(host_of(url), threading.Semaphore(self.options.per_host))

    def poll_feed(self, feed: FeedConfig, state: FeedState) -> FeedOutcome:
        """Fetch and parse one feed; never raises (an unexpected error is a failed outcome)."""
        try:
            return self._poll(feed, state)
        except Exception as exc:
            log.exception("polling feed %s failed unexpectedly", feed.id)
            now = self.clock()
            streak = state.error_streak + 1
            return FeedOutcome(feed, state.updated(last_attempt=now, error_streak=streak,
                                                   last_error=f"internal: {exc!r}"[:500],
                                                   next_poll=now + self._backoff(feed, streak, None)), "internal")

    def _poll(self, feed: FeedConfig, state: FeedState) -> FeedOutcome:
        if state.origin_url not in (None, feed.url):  # the registry URL was edited: forget the old move
            state = state.updated(url=None, etag=None, last_modified=None, body_hash=None)
        url = state.url or feed.url
        with self._host_slot(url):
            result = fetch(url, etag=state.etag, last_modified=state.last_modified, policy=self.options.http,
                           now=self.clock())
        now = self.clock()
        metrics.FETCH_SECONDS.observe(result.elapsed)
        fetched_at = datetime.fromtimestamp(now, tz=UTC)
        state = state.updated(last_attempt=now, last_status=result.status, origin_url=feed.url)
        if result.permanent_url:
            log.warning("feed %s moved permanently: %s -> %s", feed.id, url, result.permanent_url,
                        extra={"feed_id": feed.id, "event": "feed_moved", "url": result.permanent_url})
            metrics.REDIRECTS.inc()
            state = state.updated(url=result.permanent_url)
        if result.ok:
            return self._parsed(feed, state, result, now, fetched_at)
        if result.not_modified:
            return FeedOutcome(feed, self._success(feed, state, now, items=0), "not_modified", fetched_at=fetched_at)
        return self._failure(feed, state, result, now, fetched_at)

    def _success(self, feed: FeedConfig, state: FeedState, now: float, items: int, **changes: Any) -> FeedState:
        return state.updated(last_success=now, error_streak=0, last_error=None, gone=False, items_last_poll=items,
                             new_last_poll=0, next_poll=now + self._interval(feed), **changes)

    def _failure(self, feed: FeedConfig, state: FeedState, result: FetchResult, now: float,
                 fetched_at: datetime) -> FeedOutcome:
        code = result.error or f"http_{result.status}"
        streak = state.error_streak + 1
        delay = self._backoff(feed, streak, result.retry_after)
        gone = result.status == 410
        if gone:
            delay = max(delay, self.options.gone_interval)
            log.warning("feed %s is gone (410); polling it once a day", feed.id, extra={"feed_id": feed.id})
        dead = []
        if result.error == "too_large":
            dead.append(DeadLetter(stage="fetch", reason="oversize", error=result.detail,
                                   payload_ref=result.final_url, versions=VERSIONS))
        log.info("feed %s: %s (%s); retry in %.0fs", feed.id, code, result.detail or result.status, delay,
                 extra={"feed_id": feed.id, "event": "poll_failed", "outcome": code, "error_streak": streak})
        new_state = state.updated(error_streak=streak, last_error=f"{code}: {result.detail}"[:500], gone=gone,
                                  next_poll=now + delay, new_last_poll=0)
        return FeedOutcome(feed, new_state, code, dead_letters=dead, fetched_at=fetched_at)

    def _parsed(self, feed: FeedConfig, state: FeedState, result: FetchResult, now: float,
                fetched_at: datetime) -> FeedOutcome:
        body = result.body or b""
        digest = hashlib.sha256(body).hexdigest()
        validators = {"etag": result.headers.get("etag"), "last_modified": result.headers.get("last-modified")}
        if digest == state.body_hash:
            return FeedOutcome(feed, self._success(feed, state, now, state.items_last_poll, **validators),
                               "unchanged", fetched_at=fetched_at)
        doc = parse_document(body, ref=result.final_url, fetched_at=fetched_at, headers=result.headers, feed=feed)
        metrics.ENTRIES.inc(doc.entries)
        dead = doc.dead_letters
        if dead:
            ref = self._keep_document(feed, body, digest, now)
            dead = [d.model_copy(update={"payload_ref": f"{ref} (from {result.final_url})"}) for d in dead]
        known = self.store.emitted(feed.id, [a.id for a in doc.articles])
        fresh = [a for a in doc.articles if a.id not in known]
        if feed.fulltext:
            fresh = [self._full_text(a) for a in fresh]
        metrics.ARTICLES.labels("already_emitted").inc(len(doc.articles) - len(fresh))
        metrics.ARTICLES.labels("duplicate").inc(doc.duplicates)
        new_state = self._success(feed, state, now, doc.entries, body_hash=digest, **validators)
        return FeedOutcome(feed, new_state, "ok", fresh, dead, sorted(known), fetched_at)

    def _full_text(self, article: RawArticle) -> RawArticle:
        result = self.fulltext.enrich(article)
        metrics.FULLTEXT.labels(result.outcome, result.reason).inc()
        return result.article

    def _keep_document(self, feed: FeedConfig, body: bytes, digest: str, now: float) -> Path:
        """Save a document that produced dead letters (the letters refer to it); keep the newest few."""
        directory = self.documents_dir / feed.id
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.fromtimestamp(now, tz=UTC).strftime("%Y%m%dT%H%M%SZ")
        path = directory / f"{stamp}-{digest[:12]}.xml"
        path.write_bytes(body)
        for old in sorted(directory.glob("*.xml"))[: -self.options.keep_documents]:
            old.unlink(missing_ok=True)
        return path

    # -- rounds (the calling thread) -------------------------------------------------------------------------
    def _emit(self, outcome: FeedOutcome) -> None:
        for article in outcome.articles:
            self.publisher.publish(article, outcome.feed.id, outcome.fetched_at)
        for dl in outcome.dead_letters:
            self.publisher.publish_dead_letter(dl, outcome.feed.id)
            metrics.DEAD_LETTERS.labels(dl.stage, dl.reason).inc()

    def _commit(self, batch: list[FeedOutcome]) -> int:
        """Once the publisher holds the batch, persist states and emitted ids; returns records not kept."""
        if not batch:
            return 0
        unkept = self.publisher.flush() or set()
        states, emitted, seen = [], {}, {}
        now = self.clock()
        for out in batch:
            lost = [a for a in out.articles if a.id in unkept] + [d for d in out.dead_letters if d.stage in unkept]
            state = out.state
            if lost:  # fetch the document again soon: its validators and hash are not kept
                log.error("feed %s: %d records could not be kept; it will be fetched again", out.feed.id, len(lost))
                metrics.ARTICLES.labels("unkept").inc(len(lost))
                state = state.updated(etag=None, last_modified=None, body_hash=None,
                                      next_poll=now + self.options.backoff_base, last_error="publish: not kept")
            kept = [a.id for a in out.articles if a.id not in unkept]
            states.append(state.updated(new_last_poll=len(kept)))
            emitted[out.feed.id] = kept
            seen[out.feed.id] = out.seen
            metrics.ARTICLES.labels("emitted").inc(len(kept))
            metrics.ERROR_STREAK.labels(out.feed.id).set(state.error_streak)
            if state.last_success:
                metrics.LAST_SUCCESS.labels(out.feed.id).set(state.last_success)
        self.store.commit(states, emitted, seen, now=now)
        stats = getattr(self.publisher, "stats", None)
        if stats is not None:
            metrics.record_publisher(stats)
        metrics.SPOOL_BYTES.set(getattr(self.publisher, "backlog", 0))
        return sum(1 for out in batch for a in out.articles if a.id in unkept)

    def run_once(self, *, force: bool = False, stop: threading.Event | None = None) -> RoundReport:
        """Poll every due feed (every enabled feed with `force`) once; returns what happened."""
        stop = stop or self.stop
        started = time.monotonic()
        report = RoundReport()
        if getattr(self.publisher, "accepting", True) is False:
            getattr(self.publisher, "drain", lambda **_: 0)(force=True)
            if getattr(self.publisher, "accepting", True) is False:
                report.skipped = "publisher spool full"
                log.error("publisher spool is full; not fetching until Kafka takes records again")
                return report
        feeds = self.registry.enabled if force else self.due()
        states = self.store.all()
        executor = ThreadPoolExecutor(max_workers=self.options.max_workers, thread_name_prefix="feed")
        pending: set[Future[FeedOutcome]] = {
            executor.submit(self.poll_feed, f, states.get(f.id, FeedState(f.id))) for f in feeds}
        batch: list[FeedOutcome] = []
        try:
            while pending and not stop.is_set():
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    outcome = future.result()
                    self._emit(outcome)
                    batch.append(outcome)
                    report.polled += 1
                    report.outcomes[outcome.outcome] = report.outcomes.get(outcome.outcome, 0) + 1
                    report.articles += len(outcome.articles)
                    report.dead_letters += len(outcome.dead_letters)
                    metrics.FETCHES.labels(outcome.outcome).inc()
                if len(batch) >= self.options.batch_size:
                    report.unkept += self._commit(batch)
                    batch = []
        finally:
            executor.shutdown(wait=not stop.is_set(), cancel_futures=True)
            report.unkept += self._commit(batch)
        self.store.prune(self.clock())
        report.seconds = time.monotonic() - started
        metrics.ROUND_SECONDS.observe(report.seconds)
        metrics.FEEDS_DUE.set(report.polled)
        log.info("poll round: %d feeds in %.1fs, %d articles, %d dead letters, outcomes %s", report.polled,
                 report.seconds, report.articles, report.dead_letters, report.outcomes,
                 extra={"event": "poll_round", "feeds": report.polled, "articles": report.articles})
        return report

    def run_forever(self, stop: threading.Event, max_sleep: float = 30.0) -> None:
        """Poll rounds until `stop` is set; returns promptly then (fetches in flight are abandoned)."""
        self.stop = stop
        self.fulltext.stop = stop
        while not stop.is_set():
            self.heartbeat = time.monotonic()
            try:
                self.run_once(stop=stop)
            except Exception:
                log.exception("poll round failed")
            sleep = min(max_sleep, max(0.05, self.next_due() - self.clock()))
            drain = getattr(self.publisher, "drain", None)
            if drain is not None and getattr(self.publisher, "backlog", 0):
                drain()
            stop.wait(sleep)

    def alive(self, stalled_after: float = STALLED_AFTER) -> bool | str:
        """True while the poll loop turns (at least every `max_sleep` plus a round), else why not."""
        if self.stop.is_set():
            return "the poller has stopped"
        quiet = time.monotonic() - self.heartbeat
        return quiet < stalled_after or f"no poll round has started for {quiet:.0f} s"

    def close(self) -> None:
        self.store.close()
