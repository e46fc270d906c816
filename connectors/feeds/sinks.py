"""Publishers that are not Kafka: JSON-lines files (offline runs, `nkru ingest --out DIR`) and memory.

They honour the publisher interface of `connectors.publisher.KafkaPublisher`: publish, publish_dead_letter,
flush (→ keys that could not be kept), close.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

from schemas.records import DeadLetter, RawArticle


class JsonlPublisher:
    """Appends articles to `DIR/articles.jsonl` and dead letters to `DIR/deadletters.jsonl`."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._lock = threading.Lock()
        self._articles = open(directory / "articles.jsonl", "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self._dead = open(directory / "deadletters.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self.published = 0
        self.dead_letters = 0

    def publish(self, article: RawArticle, feed_id: str | None, fetched_at: datetime | None) -> None:
        with self._lock:
            self._articles.write(article.model_dump_json() + "\n")
            self.published += 1

    def publish_dead_letter(self, dl: DeadLetter, feed_id: str | None = None) -> None:
        with self._lock:
            self._dead.write(dl.model_dump_json() + "\n")
            self.dead_letters += 1

    def flush(self) -> set[str]:
        with self._lock:
            self._articles.flush()
            self._dead.flush()
        return set()

    def close(self) -> None:
        with self._lock:
            self._articles.close()
            self._dead.close()


class MemoryPublisher:
    """Keeps everything in lists (embedding and the benchmark)."""

    def __init__(self, keep: bool = True) -> None:
        self.keep = keep
        self.articles: list[RawArticle] = []
        self.dead_letters: list[DeadLetter] = []
        self.count = 0
        self._lock = threading.Lock()

    def publish(self, article: RawArticle, feed_id: str | None, fetched_at: datetime | None) -> None:
        with self._lock:
            self.count += 1
            if self.keep:
                self.articles.append(article)

    def publish_dead_letter(self, dl: DeadLetter, feed_id: str | None = None) -> None:
        with self._lock:
            self.dead_letters.append(dl)

    def flush(self) -> set[str]:
        return set()

    def close(self) -> None:
        pass
