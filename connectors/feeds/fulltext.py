"""Optional full text: article page → main text (trafilatura), rate-limited per host and cached on disk.

`enrich(article)` returns the article with the page's main text, or unchanged (summary kept) with the
reason it failed; failures are counted by the caller. Extracted text is cleaned like feed text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from connectors.feeds.http import HttpPolicy, fetch
from connectors.feeds.text import to_text
from connectors.feeds.urls import host_of
from schemas.records import RawArticle

log = logging.getLogger(__name__)
PAGE_POLICY = HttpPolicy(connect_timeout=10, read_timeout=20, total_timeout=40, max_bytes=5 * 1024 * 1024,
                         accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.5")


def extract_main_text(html: bytes | str, url: str | None = None) -> str:
    """The main text of an article page (trafilatura, precision first), cleaned; '' when none is found."""
    import trafilatura

    logging.getLogger("trafilatura").setLevel(logging.WARNING)
    try:
        text = trafilatura.extract(html, url=url, include_comments=False, include_tables=False,
                                   favor_precision=True, deduplicate=True, output_format="txt")
    except Exception as exc:  # noqa: BLE001 - an extractor failure is a counted outcome, not a crash
        log.debug("trafilatura failed on %s: %s", url, exc)
        return ""
    return to_text(text or "", "text/plain")


@dataclass(frozen=True)
class FullTextResult:
    article: RawArticle
    outcome: str  # 'extracted' | 'cached' | 'failed'
    reason: str = ""  # why it failed: fetch error code, http_<status>, no_url, too_short, rate_limited


class FullTextFetcher:
    """Fetches article pages politely: at most one request per `min_interval` seconds per host."""

    def __init__(self, cache_dir: Path, *, policy: HttpPolicy = PAGE_POLICY, min_interval: float = 5.0,
                 max_wait: float = 60.0, min_chars: int = 200, stop: threading.Event | None = None) -> None:
        self.cache_dir = cache_dir
        self.policy = policy
        self.min_interval = min_interval
        self.max_wait = max_wait
        self.min_chars = min_chars
        self.stop = stop or threading.Event()
        self._lock = threading.Lock()
        self._next_slot: dict[str, float] = {}

    def _cache_path(self, url: str) -> Path:
        digest = hashlib.sha256(url.encode("utf-8")).hexdigest()
        return self.cache_dir / digest[:2] / f"{digest}.json"

    def _cached(self, url: str) -> str | None:
        try:
            data = json.loads(self._cache_path(url).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        return data.get("text") if data.get("url") == url else None

    def _store(self, url: str, text: str) -> None:
        path = self._cache_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"url": url, "text": text, "at": time.time()}, ensure_ascii=False), "utf-8")
        tmp.replace(path)

    def _reserve(self, host: str) -> float | None:
        """Seconds to wait for this host's next slot (reserved), or None when that is beyond `max_wait`."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(host, 0.0))
            if slot - now > self.max_wait:
                return None
            self._next_slot[host] = slot + self.min_interval
            return slot - now

    def enrich(self, article: RawArticle) -> FullTextResult:
        if not article.url:
            return FullTextResult(article, "failed", "no_url")
        cached = self._cached(article.url)
        if cached is not None:
            return FullTextResult(self._with(article, cached), "cached")
        wait = self._reserve(host_of(article.url))
        if wait is None:
            return FullTextResult(article, "failed", "rate_limited")
        if wait > 0 and self.stop.wait(wait):
            return FullTextResult(article, "failed", "stopped")
        result = fetch(article.url, policy=self.policy)
        if not result.ok:
            return FullTextResult(article, "failed", result.error or f"http_{result.status}")
        text = extract_main_text(result.body or b"", result.final_url)
        if len(text) < self.min_chars or len(text) <= len(article.text):
            return FullTextResult(article, "failed", "too_short")
        self._store(article.url, text)
        return FullTextResult(self._with(article, text), "extracted")

    @staticmethod
    def _with(article: RawArticle, text: str) -> RawArticle:
        return article.model_copy(update={"text": text}) if len(text) > len(article.text) else article
